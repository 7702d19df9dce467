package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Names that mark whiteouts in a layer tar (the OCI and docker format).
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// opaqueXattr returns the xattr that marks an opaque directory for
// overlayfs: trusted.overlay.opaque needs root (CAP_SYS_ADMIN) to set, so
// a tree unpacked by another user has user.overlay.opaque, which overlayfs
// reads when mounted with the userxattr option.
func opaqueXattr(asRoot bool) string {
	if asRoot {
		return "trusted.overlay.opaque"
	}
	return "user.overlay.opaque"
}

// unpacker writes one layer tar into a tree, never outside it: every path
// goes through an os.Root of the tree, which refuses names and symbolic
// links that lead out of it.
type unpacker struct {
	root   *os.Root
	log    *slog.Logger
	asRoot bool
	// limit is the most bytes of regular files the layer may hold; size
	// counts them as they are written.
	limit, size int64
	// dirs are the directories whose modes and times are set once every
	// entry is written: writing into a directory changes its time, and a
	// read-only directory would stop a user other than root from writing
	// into it.
	dirs []*tar.Header
}

// unpackLayer writes the layer tar read from r into the directory tree,
// which exists, converting whiteouts to overlayfs format. Past limit
// bytes of regular files it stops with ErrTooLarge. It returns the bytes
// of regular files written.
func unpackLayer(ctx context.Context, r io.Reader, tree string, limit int64, log *slog.Logger) (int64, error) {
	root, err := os.OpenRoot(tree)
	if err != nil {
		return 0, fmt.Errorf("unpack layer: %w", err)
	}
	defer root.Close()
	u := &unpacker{root: root, log: log, asRoot: os.Geteuid() == 0, limit: limit}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return u.size, fmt.Errorf("unpack layer: %w", err)
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return u.size, fmt.Errorf("read layer tar: %w", err)
		}
		if err := u.entry(hdr, tr); err != nil {
			return u.size, fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	}
	for i := len(u.dirs) - 1; i >= 0; i-- {
		if err := u.dirMeta(u.dirs[i]); err != nil {
			return u.size, fmt.Errorf("layer entry %q: %w", u.dirs[i].Name, err)
		}
	}
	return u.size, nil
}

// dirMeta sets a directory's mode and times, if a later entry did not
// replace it with something else.
func (u *unpacker) dirMeta(hdr *tar.Header) error {
	name, err := entryName(hdr.Name)
	if err != nil {
		return err
	}
	fi, err := u.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return nil
	}
	if err := u.root.Chmod(name, fileMode(hdr.Mode)); err != nil {
		return err
	}
	return u.root.Chtimes(name, accessTime(hdr), hdr.ModTime)
}

// entry writes one tar entry.
func (u *unpacker) entry(hdr *tar.Header, body io.Reader) error {
	name, err := entryName(hdr.Name)
	if err != nil {
		return err
	}
	dir, base := path.Dir(name), path.Base(name)
	if name != "." && strings.HasPrefix(base, whiteoutPrefix) {
		return u.whiteoutEntry(dir, base)
	}
	if name == "." {
		if hdr.Typeflag == tar.TypeDir {
			return u.dir(".", hdr)
		}
		return nil
	}
	if err := u.root.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if fi, err := u.root.Lstat(name); err == nil {
		if !(fi.IsDir() && hdr.Typeflag == tar.TypeDir) {
			if err := u.root.RemoveAll(name); err != nil {
				return err
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := u.root.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		return u.dir(name, hdr)
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeCont:
		return u.file(name, hdr, body)
	case tar.TypeSymlink:
		if err := u.root.Symlink(hdr.Linkname, name); err != nil {
			return err
		}
		return u.inParent(name, func(fd int, base string) error {
			if u.asRoot {
				if err := unix.Fchownat(fd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
					return fmt.Errorf("chown: %w", err)
				}
			}
			return utimes(fd, base, hdr)
		})
	case tar.TypeLink:
		target, err := entryName(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
		}
		if target == "." {
			return fmt.Errorf("hard link to the tree itself refused")
		}
		return u.root.Link(target, name)
	case tar.TypeChar:
		if hdr.Devmajor == 0 && hdr.Devminor == 0 {
			// Already a whiteout in overlayfs format.
			return u.whiteout(name)
		}
		u.log.Debug("layer device node skipped", "name", name)
		return nil
	case tar.TypeBlock:
		u.log.Debug("layer device node skipped", "name", name)
		return nil
	case tar.TypeFifo:
		if err := u.inParent(name, func(fd int, base string) error {
			return unix.Mkfifoat(fd, base, 0o600)
		}); err != nil {
			return fmt.Errorf("mkfifo: %w", err)
		}
		return u.meta(name, hdr)
	default:
		u.log.Debug("layer entry of unknown type skipped", "name", name, "type", string(hdr.Typeflag))
		return nil
	}
}

// whiteoutEntry writes a whiteout marker ".wh.NAME" or ".wh..wh..opq"
// found in dir in overlayfs format.
func (u *unpacker) whiteoutEntry(dir, base string) error {
	if base == whiteoutOpaque {
		if dir == "." {
			u.log.Debug("opaque marker at the layer's top skipped")
			return nil
		}
		if err := u.root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		d, err := u.root.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			return err
		}
		defer d.Close()
		if err := unix.Fsetxattr(int(d.Fd()), opaqueXattr(u.asRoot), []byte("y"), 0); err != nil {
			return fmt.Errorf("mark %s opaque: %w", dir, err)
		}
		return nil
	}
	if strings.HasPrefix(base, whiteoutMeta) {
		u.log.Debug("layer whiteout metadata skipped", "name", path.Join(dir, base))
		return nil
	}
	target := strings.TrimPrefix(base, whiteoutPrefix)
	if target == "" || target == "." || target == ".." {
		return fmt.Errorf("whiteout of %q refused", target)
	}
	if err := u.root.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return u.whiteout(path.Join(dir, target))
}

// whiteout makes name a character device 0:0, overlayfs's whiteout.
func (u *unpacker) whiteout(name string) error {
	if err := u.root.RemoveAll(name); err != nil {
		return err
	}
	return u.inParent(name, func(fd int, base string) error {
		if err := unix.Mknodat(fd, base, unix.S_IFCHR, 0); err != nil {
			return fmt.Errorf("whiteout %s: mknod 0:0: %w", name, err)
		}
		return nil
	})
}

// dir notes a directory's metadata: its owner is set now, its mode and
// times once the layer is written.
func (u *unpacker) dir(name string, hdr *tar.Header) error {
	if u.asRoot {
		if err := u.root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	u.dirs = append(u.dirs, hdr)
	return nil
}

// file writes a regular file, counting its bytes against the limit.
func (u *unpacker) file(name string, hdr *tar.Header, body io.Reader) error {
	if hdr.Size > u.limit-u.size {
		return fmt.Errorf("%d bytes past the %d left to the image: %w", u.size+hdr.Size-u.limit, u.limit, ErrTooLarge)
	}
	f, err := u.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(body, u.limit-u.size+1))
	u.size += n
	if err == nil && u.size > u.limit {
		err = fmt.Errorf("past the %d bytes left to the image: %w", u.limit, ErrTooLarge)
	}
	if err == nil {
		err = u.xattrs(f, hdr)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return u.meta(name, hdr)
}

// xattrs sets the extended attributes that the tar header carries
// (security.capability for a file with capabilities, for one) on f. A
// user other than root sets only those in the user namespace.
func (u *unpacker) xattrs(f *os.File, hdr *tar.Header) error {
	for k, v := range hdr.PAXRecords {
		attr, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok || (!u.asRoot && !strings.HasPrefix(attr, "user.")) {
			continue
		}
		if err := unix.Fsetxattr(int(f.Fd()), attr, []byte(v), 0); err != nil {
			if errors.Is(err, unix.ENOTSUP) {
				u.log.Debug("layer xattr unsupported here, skipped", "name", hdr.Name, "xattr", attr)
				continue
			}
			return fmt.Errorf("set xattr %s: %w", attr, err)
		}
	}
	return nil
}

// meta sets the owner (as root), mode and times of a file that is not a
// directory or symbolic link. The owner goes first: chown clears the
// setuid and setgid bits.
func (u *unpacker) meta(name string, hdr *tar.Header) error {
	if u.asRoot {
		if err := u.root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	if err := u.root.Chmod(name, fileMode(hdr.Mode)); err != nil {
		return err
	}
	return u.root.Chtimes(name, accessTime(hdr), hdr.ModTime)
}

// inParent calls f with a descriptor of name's parent directory, opened
// within the tree, and name's last component, for the calls that os.Root
// has no method for.
func (u *unpacker) inParent(name string, f func(fd int, base string) error) error {
	d, err := u.root.OpenFile(path.Dir(name), os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	return f(int(d.Fd()), path.Base(name))
}

// utimes sets the times of base in the directory fd without following a
// symbolic link.
func utimes(fd int, base string, hdr *tar.Header) error {
	ts := []unix.Timespec{unix.NsecToTimespec(accessTime(hdr).UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if err := unix.UtimesNanoAt(fd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// accessTime is the entry's access time, or its modification time when
// the tar has none.
func accessTime(hdr *tar.Header) time.Time {
	if hdr.AccessTime.IsZero() {
		return hdr.ModTime
	}
	return hdr.AccessTime
}

// fileMode converts a tar mode to an os.FileMode with its permission,
// setuid, setgid and sticky bits.
func fileMode(m int64) os.FileMode {
	mode := os.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= os.ModeSticky
	}
	return mode
}
