package transport

// The tests of this package frame with the stock transport, which the package itself must
// not import: the external test package (main_test.go) hands it over through SetUp.
var (
	testNative    func() Framer
	transportWasm string
)

// SetUp records the native framer the tests use and returns where the test binary's
// TestMain stores the path of the Wasm transport it builds.
func SetUp(native func() Framer) *string {
	testNative = native
	return &transportWasm
}
