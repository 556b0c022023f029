// Package conformance holds the tests that hold every language's greeter to one behaviour:
// the Go, C, AssemblyScript and WAT builds of Greeter.Hello, built from source and run on
// the host, must answer the same requests with the same bytes and the same errors. It also
// runs the ABI specification's own WAT example, and benchmarks a call in each language.
package conformance
