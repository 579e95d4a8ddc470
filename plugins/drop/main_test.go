package main

import (
	"slices"
	"testing"

	"github.com/memif-wasm/memif-wasm/sdk"
	"github.com/memif-wasm/memif-wasm/sdk/sdktest"
)

func TestDropsEverything(t *testing.T) {
	b := sdktest.Burst(1, []byte{1}, make([]byte, 60))
	process(b)
	if got := sdktest.Verdicts(b); !slices.Equal(got, []sdk.Verdict{sdk.Drop, sdk.Drop}) {
		t.Fatalf("verdicts %v", got)
	}
}
