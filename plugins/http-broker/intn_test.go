package httpbroker

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIntNIsRandIntN: RouteWire's intN draws what Route's rand.Rand draws, for every size of
// group, a power of two or not, up to the sizes where a draw is often taken again.
func TestIntNIsRandIntN(t *testing.T) {
	sizes := []int{1, 2, 3, 5, 7, 8, 16, 100, 1000, 1<<20 + 3, math.MaxInt64 / 3, 1<<62 + 1, math.MaxInt64/2 + 1, math.MaxInt64}
	for seed := range uint64(300) {
		for _, n := range sizes {
			want := routeRand(seed)
			var got rand.PCG
			got.Seed(routeSeeds(seed))
			for i := range 8 {
				require.Equal(t, want.IntN(n), intN(&got, n), "seed %d, n %d, draw %d", seed, n, i)
			}
		}
	}
}
