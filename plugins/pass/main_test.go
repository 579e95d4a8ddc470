package main

import (
	"slices"
	"testing"

	"github.com/memif-wasm/memif-wasm/sdk"
	"github.com/memif-wasm/memif-wasm/sdk/sdktest"
)

func TestPassesEverything(t *testing.T) {
	b := sdktest.Burst(1, []byte("not even a frame"), make([]byte, 60), make([]byte, 1514))
	process(b)
	if got := sdktest.Verdicts(b); !slices.Equal(got, []sdk.Verdict{sdk.Pass, sdk.Pass, sdk.Pass}) {
		t.Fatalf("verdicts %v", got)
	}
}
