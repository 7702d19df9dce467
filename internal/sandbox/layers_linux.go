package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// upperSize is the size of the tmpfs under an image's overlay, which
// holds its upper and work directories: the mount points the image lacks,
// the directories above them and the files of Spec.Etc, copied up or
// written there while the root is built.
const upperSize = "4m"

// mountLayers shows layers, topmost first, as one overlay on root. Its
// upper and work directories are on a small tmpfs mounted on root first,
// which the overlay then hides: the layers are never written, and the
// tmpfs goes with the sandbox's mount namespace. The overlay is writable,
// so that the mount points and /etc can be made on it; buildRoot makes it
// read-only once the root is complete.
//
// The layers are given one by one (fsconfig's lowerdir+, Linux 6.8), so
// that neither their number nor the length of their paths meets the page
// that the classic option string must fit in; older kernels, and classic,
// get that string.
func mountLayers(root string, layers []string, classic bool) error {
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size="+upperSize); err != nil {
		return fmt.Errorf("upper tmpfs: %w", err)
	}
	// The merged root takes the upper directory's owner and mode.
	upper, work := filepath.Join(root, "upper"), filepath.Join(root, "work")
	for _, dir := range []string{upper, work} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return fmt.Errorf("upper tmpfs: %w", err)
		}
	}
	if classic || !kernelAtLeast(6, 8) {
		opts, err := overlayOptions(layers, upper, work)
		if err != nil {
			return err
		}
		if err := unix.Mount("overlay", root, "overlay", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
			return fmt.Errorf("mount overlay: %w", err)
		}
		return nil
	}
	return mountOverlay(root, layers, upper, work)
}

// mountOverlay mounts the overlay of layers on root with the mount API,
// one layer at a time.
func mountOverlay(root string, layers []string, upper, work string) error {
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("open overlay: %w", err)
	}
	defer unix.Close(fsfd)
	for _, layer := range layers {
		if err := unix.FsconfigSetString(fsfd, "lowerdir+", layer); err != nil {
			return fmt.Errorf("layer %s: %w", layer, withFSLog(fsfd, err))
		}
	}
	for _, opt := range [][2]string{{"upperdir", upper}, {"workdir", work}} {
		if err := unix.FsconfigSetString(fsfd, opt[0], opt[1]); err != nil {
			return fmt.Errorf("overlay %s: %w", opt[0], withFSLog(fsfd, err))
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fmt.Errorf("create overlay: %w", withFSLog(fsfd, err))
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return fmt.Errorf("mount overlay: %w", withFSLog(fsfd, err))
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, root, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount overlay: %w", err)
	}
	return nil
}

// withFSLog adds to err the messages that the file system left in the
// log of its context fsfd, which say which option it refused and why.
func withFSLog(fsfd int, err error) error {
	var lines []string
	buf := make([]byte, 1024)
	for len(lines) < 8 {
		n, rerr := unix.Read(fsfd, buf)
		if rerr != nil || n <= 0 {
			break
		}
		lines = append(lines, strings.TrimSpace(string(buf[:n])))
	}
	if len(lines) == 0 {
		return err
	}
	return fmt.Errorf("%w (%s)", err, strings.Join(lines, "; "))
}

// overlayOptions is the classic option string of the overlay of layers,
// which must fit in a page and cannot hold a path with the characters
// that separate its parts.
func overlayOptions(layers []string, upper, work string) (string, error) {
	for _, p := range append(append([]string{}, layers...), upper, work) {
		if strings.ContainsAny(p, `:,\`) {
			return "", fmt.Errorf("layer path %q has a character that an overlay option string cannot take (the mount API of Linux 6.8 can)", p)
		}
	}
	opts := "lowerdir=" + strings.Join(layers, ":") + ",upperdir=" + upper + ",workdir=" + work
	if limit := os.Getpagesize(); len(opts) >= limit {
		return "", fmt.Errorf("the paths of %d layers take %d bytes of overlay options, more than the %d the kernel takes in a string (the mount API of Linux 6.8 takes any)",
			len(layers), len(opts), limit-1)
	}
	return opts, nil
}

// kernelAtLeast reports whether the running kernel's version is at least
// major.minor.
func kernelAtLeast(major, minor int) bool {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return false
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(uts.Release[:]), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// writeImageEtc writes files, by names relative to /etc, over the image's
// /etc in root, on the overlay's upper directory. An entry of the image
// in the way, a file or a symbolic link, is replaced, never followed: a
// link of the image's points into the host's file system until
// pivot_root.
func writeImageEtc(root string, files map[string]string) error {
	for name, content := range files {
		target := filepath.Join("/etc", name)
		dir, err := mountPoint(root, filepath.Dir(target), true)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, filepath.Base(target))
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return err
		case fi.Mode().IsRegular() || fi.Mode()&fs.ModeSymlink != 0:
			if err := os.Remove(p); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: the image has a %v there", target, fi.Mode().Type())
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW, 0o644)
		if err != nil {
			return err
		}
		_, err = f.WriteString(content)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// layerFile reads the file name, one directory deep (such as etc/hosts),
// as the overlay of layers, topmost first, shows it: from the topmost
// layer that has it as a regular file. A whiteout or anything else in its
// place, or its directory made opaque or replaced, hides the layers below;
// a file that no layer shows reads as nil.
func layerFile(layers []string, name string) ([]byte, error) {
	dir, base := filepath.Split(name)
	for _, layer := range layers {
		d := filepath.Join(layer, dir)
		fi, err := os.Lstat(d)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return nil, err
		case !fi.IsDir():
			return nil, nil
		}
		p := filepath.Join(d, base)
		fi, err = os.Lstat(p)
		switch {
		case err == nil && fi.Mode().IsRegular():
			return os.ReadFile(p)
		case err == nil:
			return nil, nil
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		}
		if opaque(d) {
			return nil, nil
		}
	}
	return nil, nil
}

// opaque reports whether the directory dir of a layer hides the layers
// below it, as overlayfs marks one.
func opaque(dir string) bool {
	var b [1]byte
	n, err := unix.Lgetxattr(dir, "trusted.overlay.opaque", b[:])
	return err == nil && n == 1 && b[0] == 'y'
}
