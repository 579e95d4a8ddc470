package host

import (
	"math"
	"testing"
	"time"
)

func TestCallDurationBuckets(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 1023, 1024, 1025, 2048, 2049, time.Millisecond, 30 * time.Millisecond, time.Second} {
		i := callBucket(d)
		if d > CallDurationBound(i) || (i > 0 && d <= CallDurationBound(i-1)) {
			t.Errorf("call of %v in bucket %d (bound %v)", d, i, CallDurationBound(i))
		}
	}
	if CallDurationBound(NumCallDurationBuckets-1) != math.MaxInt64 || CallDurationBound(0) != 1024 {
		t.Errorf("bounds %v .. %v", CallDurationBound(0), CallDurationBound(NumCallDurationBuckets-1))
	}
}
