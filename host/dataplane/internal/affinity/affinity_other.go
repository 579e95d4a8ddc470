//go:build !linux

package affinity

func Allowed() ([]int, error) { return nil, ErrNotSupported }
func Pin([]int) error         { return ErrNotSupported }
