package image_test

import (
	"errors"
	"fmt"

	"github.com/memif-wasm/memif-wasm/deploy/image"
)

// A binary that needs a dynamic loader cannot start on the empty base:
// Build refuses it before making anything.
func ExampleBuild_dynamicBinary() {
	_, err := image.Build(image.Options{Binary: "/bin/sh"})
	fmt.Println(errors.Is(err, image.ErrNotStatic))
	// Output: true
}
