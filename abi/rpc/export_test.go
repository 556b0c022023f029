package rpc

// UnmarshalNewJSON exposes unmarshalNewJSON, the decoding Serve and Invoke use, to the tests.
var UnmarshalNewJSON = unmarshalNewJSON
