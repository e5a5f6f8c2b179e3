// Lets TypeScript import WGSL sources as strings through Vite's ?raw suffix.
declare module '*.wgsl?raw' {
  const source: string;
  export default source;
}
