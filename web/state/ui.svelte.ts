// View state of the shell: the narrow-screen drawer, the model library dialog, the photo viewer,
// transient notices.
class UiState {
  drawerOpen = $state(false);
  libraryOpen = $state(false);
  /** Photo shown full size (thread photos open in a viewer). */
  viewing = $state<{ url: string; alt: string; width: number; height: number } | null>(null);
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
