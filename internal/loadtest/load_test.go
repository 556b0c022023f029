package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A report in the shape wrk 4 prints with --latency.
const wrkReport = `Running 5s test @ http://127.0.0.1:41234/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   812.31us  401.12us   9.87ms   90.12%
    Req/Sec    39.12k     1.02k   41.00k    88.00%
  Latency Distribution
     50%  702.00us
     75%    0.91ms
     90%    1.20ms
     99%    2.68ms
  194321 requests in 5.00s, 25.39MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  38864.20
Transfer/sec:      5.08MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk([]byte(wrkReport))
	require.NoError(t, err)
	assert.InDelta(t, 38864.2, r.rps, 0.01)
	assert.Equal(t, 194321, r.requests)
	assert.Equal(t, 7, r.errors, "non-2xx plus socket errors")
	assert.Equal(t, 702*time.Microsecond, r.p50)
	assert.Equal(t, 2680*time.Microsecond, r.p99)

	_, err = parseWrk([]byte("unable to connect to 127.0.0.1:1 Connection refused"))
	require.Error(t, err)
}
