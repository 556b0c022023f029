// The package's entry for the AssemblyScript compiler, which resolves "@microhost/guest" to
// this file. The SDK itself is assembly/index.ts.
export * from "./assembly/index";
