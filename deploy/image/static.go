package image

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrNotStatic is returned (wrapped) for a binary that the empty base image
// could not run: it names a dynamic loader or shared libraries.
var ErrNotStatic = errors.New("binary is not statically linked")

// goArch maps an ELF machine to the GOARCH an image's platform names.
var goArch = map[elf.Machine]string{
	elf.EM_X86_64:  "amd64",
	elf.EM_AARCH64: "arm64",
	elf.EM_386:     "386",
	elf.EM_ARM:     "arm",
	elf.EM_PPC64:   "ppc64le",
	elf.EM_S390:    "s390x",
	elf.EM_RISCV:   "riscv64",
}

// CheckStatic reports whether the file at path is a Linux ELF executable
// that needs nothing from the filesystem to start: no program interpreter
// (PT_INTERP) and no needed shared library (DT_NEEDED). It returns the
// GOARCH of the binary's machine.
func CheckStatic(path string) (arch string, err error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("binary %s: %w", path, err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return "", fmt.Errorf("binary %s: ELF type %v is not an executable", path, f.Type)
	}
	arch, ok := goArch[f.Machine]
	if !ok {
		return "", fmt.Errorf("binary %s: unsupported ELF machine %v", path, f.Machine)
	}
	// ppc64 big-endian and ppc64le share EM_PPC64.
	if f.Machine == elf.EM_PPC64 && f.ByteOrder == binary.BigEndian {
		arch = "ppc64"
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "", fmt.Errorf("binary %s: %w: it names a program interpreter (built with cgo? use CGO_ENABLED=0)", path, ErrNotStatic)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return "", fmt.Errorf("binary %s: reading its dynamic section: %w", path, err)
	}
	if len(libs) > 0 {
		return "", fmt.Errorf("binary %s: %w: it needs %v", path, ErrNotStatic, libs)
	}
	return arch, nil
}
