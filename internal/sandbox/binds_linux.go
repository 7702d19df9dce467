package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// openBinds readies binds for the init stage. Each bind whose source
// exists becomes a mount attached nowhere (open_tree), read-only unless
// Writable, without set-user-ID programs or devices, which the init stage
// moves into place: it then needs no access to the directories above the
// source, which the root of a user namespace may lack. A bind whose source
// does not exist becomes one without a source, an empty directory. It
// returns the binds to send, whether each comes with a file, and the files
// in order. Where the kernel lacks the calls (open_tree, Linux 5.2;
// mount_setattr, 5.12) it returns the binds as they are and no files, for
// the init stage to bind by path.
func openBinds(binds []Bind) (sent []Bind, withFile []bool, files []*os.File, err error) {
	defer func() {
		if err != nil {
			for _, f := range files {
				f.Close()
			}
		}
	}()
	for _, b := range binds {
		if b.Source == "" {
			sent, withFile = append(sent, b), append(withFile, false)
			continue
		}
		f, err := openBind(b)
		switch {
		case errors.Is(err, unix.ENOSYS):
			for _, f := range files {
				f.Close()
			}
			return binds, nil, nil, nil
		case errors.Is(err, fs.ErrNotExist):
			b.Source = ""
			sent, withFile = append(sent, b), append(withFile, false)
			continue
		case err != nil:
			return nil, nil, files, fmt.Errorf("bind %s: %w", b.Target, err)
		}
		sent, withFile, files = append(sent, b), append(withFile, true), append(files, f)
	}
	return sent, withFile, files, nil
}

// openBind clones the mount at b.Source, not what is mounted below it, and
// sets its attributes.
func openBind(b Bind) (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, b.Source, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), b.Source)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if !b.Writable {
		attr.Attr_set |= unix.MOUNT_ATTR_RDONLY
	}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// moveBind moves the mount of fd, which openBind made, to target in root.
func moveBind(root string, b Bind, fd int) error {
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	dst, err := mountPoint(root, b.Target, st.Mode&unix.S_IFMT == unix.S_IFDIR)
	if err != nil {
		return err
	}
	return unix.MoveMount(fd, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH)
}
