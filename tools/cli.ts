// Entry point of the Node tools (bench, parity, engine eval): runs main, then exits explicitly
// (Dawn keeps the process alive otherwise) with 0, or prints the error and exits with 1.
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
