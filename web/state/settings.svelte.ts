// Small user settings kept in localStorage (and nothing else there): the selected model id and
// the colour theme. The theme is applied as data-theme on <html>; 'system' follows the OS.
export type Theme = 'system' | 'light' | 'dark';

const KEY_MODEL = 'lumen.modelId';
const KEY_THEME = 'lumen.theme';

function read(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null; // storage disabled: settings simply don't persist
  }
}

function write(key: string, value: string | null): void {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    /* storage disabled */
  }
}

class Settings {
  modelId = $state<string | null>(read(KEY_MODEL));
  theme = $state<Theme>(parseTheme(read(KEY_THEME)));

  setModel(id: string | null): void {
    this.modelId = id;
    write(KEY_MODEL, id);
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    write(KEY_THEME, theme === 'system' ? null : theme);
    this.applyTheme();
  }

  /** system -> light -> dark -> system */
  cycleTheme(): void {
    this.setTheme(this.theme === 'system' ? 'light' : this.theme === 'light' ? 'dark' : 'system');
  }

  applyTheme(): void {
    const root = document.documentElement;
    if (this.theme === 'system') delete root.dataset.theme;
    else root.dataset.theme = this.theme;
    const dark = this.theme === 'dark' || (this.theme === 'system' && matchMedia('(prefers-color-scheme: dark)').matches);
    document.querySelector('meta[name="theme-color"]')?.setAttribute('content', dark ? '#111318' : '#f6f7f9');
  }
}

function parseTheme(v: string | null): Theme {
  return v === 'light' || v === 'dark' ? v : 'system';
}

export const settings = new Settings();
