// View state of the shell: the narrow-screen drawer, the model library dialog, transient notices.
class UiState {
  drawerOpen = $state(false);
  libraryOpen = $state(false);
  /** A short confirmation ("Copied") announced politely and cleared after a moment. */
  toast = $state<string | null>(null);
  private toastTimer: ReturnType<typeof setTimeout> | undefined;

  openLibrary(): void {
    this.drawerOpen = false;
    this.libraryOpen = true;
  }

  notify(message: string): void {
    this.toast = message;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => (this.toast = null), 2200);
  }
}

export const ui = new UiState();
