// Svelte compiler options: runes everywhere; TypeScript in components is handled natively.
export default {
  compilerOptions: { runes: true },
};
