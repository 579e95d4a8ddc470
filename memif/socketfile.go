package memif

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
)

// SocketFile is the owner, group and mode a listening socket's file gets,
// so that a peer running as another user (VPP as user vpp, say) can
// connect: connecting to a unix socket needs write permission on its file.
// The zero value leaves the file as the listener created it (mode 0777
// less the umask, the process's user and group).
type SocketFile struct {
	// Mode is the file's permission bits, e.g. 0o660. 0: as created.
	Mode fs.FileMode
	// Owner and Group are a user and a group, by name or numeric id. "": as
	// created.
	Owner, Group string
}

// IsZero reports whether f changes nothing.
func (f SocketFile) IsZero() bool { return f == SocketFile{} }

// Validate checks the mode's range and resolves the owner and group,
// returning an error that names what is wrong.
func (f SocketFile) Validate() error {
	_, _, err := f.ids()
	return err
}

// ids resolves Owner and Group to numeric ids; -1 means unchanged.
func (f SocketFile) ids() (uid, gid int, err error) {
	if f.Mode&^fs.ModePerm != 0 {
		return 0, 0, fmt.Errorf("socket file mode %#o: only permission bits (0..0777) may be set", uint32(f.Mode))
	}
	uid, gid = -1, -1
	if f.Owner != "" {
		if uid, err = lookupID(f.Owner, "user", func(s string) (string, error) {
			u, err := user.Lookup(s)
			if err != nil {
				return "", err
			}
			return u.Uid, nil
		}); err != nil {
			return 0, 0, err
		}
	}
	if f.Group != "" {
		if gid, err = lookupID(f.Group, "group", func(s string) (string, error) {
			g, err := user.LookupGroup(s)
			if err != nil {
				return "", err
			}
			return g.Gid, nil
		}); err != nil {
			return 0, 0, err
		}
	}
	return uid, gid, nil
}

// lookupID takes a numeric id as it is and looks a name up.
func lookupID(s, what string, lookup func(string) (string, error)) (int, error) {
	if n, err := strconv.ParseUint(s, 10, 31); err == nil {
		return int(n), nil
	}
	id, err := lookup(s)
	if err != nil {
		return 0, fmt.Errorf("socket file %s %q: %w", what, s, err)
	}
	n, err := strconv.Atoi(id)
	if err != nil {
		return 0, fmt.Errorf("socket file %s %q: id %q is not a number", what, s, id)
	}
	return n, nil
}

// Apply sets path's owner, group and mode as f says. Changing the owner
// needs privilege (CAP_CHOWN); a group the process's user belongs to does
// not. Abstract sockets (a leading '@') have no file: nothing to do.
func (f SocketFile) Apply(path string) error {
	if f.IsZero() || len(path) > 0 && path[0] == '@' {
		return nil
	}
	uid, gid, err := f.ids()
	if err != nil {
		return err
	}
	if uid != -1 || gid != -1 {
		if err := os.Lchown(path, uid, gid); err != nil {
			return fmt.Errorf("socket file %s: owner %q group %q: %w", path, f.Owner, f.Group, err)
		}
	}
	if f.Mode != 0 {
		if err := os.Chmod(path, f.Mode); err != nil {
			return fmt.Errorf("socket file %s: mode %#o: %w", path, uint32(f.Mode), err)
		}
	}
	return nil
}
