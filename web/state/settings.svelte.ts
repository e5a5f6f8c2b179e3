// Small user settings kept in localStorage (and nothing else there): the selected model id, the
// colour theme and the longest answer (max new tokens). The theme is applied as data-theme on
// <html>; 'system' follows the OS.
export type Theme = 'system' | 'light' | 'dark';

const KEY_MODEL = 'lumen.modelId';
const KEY_THEME = 'lumen.theme';
const KEY_MAX_TOKENS = 'lumen.maxNewTokens';

/** Bounds and default of the "Longest answer" setting, in tokens. */
export const MAX_TOKENS = { min: 8, max: 2048, default: 512 } as const;

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
  maxNewTokens = $state<number>(parseTokens(read(KEY_MAX_TOKENS)));

  /** Sets the longest answer in tokens (clamped to MAX_TOKENS; the default is not stored). */
  setMaxNewTokens(n: number): void {
    const v = clampTokens(n);
    this.maxNewTokens = v;
    write(KEY_MAX_TOKENS, v === MAX_TOKENS.default ? null : String(v));
  }

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

function clampTokens(n: number): number {
  return Number.isFinite(n) ? Math.min(MAX_TOKENS.max, Math.max(MAX_TOKENS.min, Math.round(n))) : MAX_TOKENS.default;
}

function parseTokens(v: string | null): number {
  return v === null ? MAX_TOKENS.default : clampTokens(Number(v));
}

export const settings = new Settings();
