package conformance

// selectorSuite is the selector kind's acceptance suite.
func selectorSuite() suite {
	return suite{}
}
