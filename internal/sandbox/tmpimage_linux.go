package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ensureImage makes path an ext4 file system of sizeMB unless it already
// is a file of that size, which it keeps as it is.
func ensureImage(path string, sizeMB int) error {
	size := int64(sizeMB) << 20
	fi, err := os.Stat(path)
	if err == nil {
		if fi.Size() != size {
			return fmt.Errorf("%s holds %d bytes, not %d MB", path, fi.Size(), sizeMB)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	mkfs, err := findMkfs()
	if err != nil {
		return err
	}
	// Made under another name and renamed, so that a half-made image is
	// never taken for one.
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".new-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// No journal: /tmp need not survive a crash of the host. No space
		// kept for root, who never writes there. Inode tables are written
		// lazily, by the kernel, so that making it stays quick.
		out, merr := exec.Command(mkfs, "-q", "-F", "-m", "0", "-O", "^has_journal",
			"-E", "lazy_itable_init=1,nodiscard", tmp).CombinedOutput()
		if merr != nil {
			err = fmt.Errorf("%s: %w: %s", mkfs, merr, strings.TrimSpace(string(out)))
		}
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// findMkfs finds mkfs.ext4, which is often outside a user's PATH.
func findMkfs() (string, error) {
	if p, err := exec.LookPath("mkfs.ext4"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("mkfs.ext4 not found (install e2fsprogs)")
}

// attachLoop attaches the image at path to a free loop device and returns
// the open device and its path. The device detaches itself when the last
// holder (the open file, then the mount) lets it go.
func attachLoop(path string) (*os.File, string, error) {
	img, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, "", err
	}
	defer img.Close()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return nil, "", fmt.Errorf("loop devices: %w", err)
	}
	defer ctl.Close()

	cfg := unix.LoopConfig{Fd: uint32(img.Fd())}
	// Direct I/O keeps the image's pages out of the host's page cache: the
	// file system's own cache is the only copy.
	cfg.Info.Flags = unix.LO_FLAGS_AUTOCLEAR | unix.LO_FLAGS_DIRECT_IO
	copy(cfg.Info.File_name[:len(cfg.Info.File_name)-1], path)

	// Another process may take the free device between asking and
	// configuring it: ask again.
	for range 16 {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return nil, "", fmt.Errorf("free loop device: %w", err)
		}
		dev := fmt.Sprintf("/dev/loop%d", n)
		f, err := os.OpenFile(dev, os.O_RDWR, 0)
		if err != nil {
			return nil, "", err
		}
		err = unix.IoctlLoopConfigure(int(f.Fd()), &cfg)
		if err == nil {
			return f, dev, nil
		}
		f.Close()
		if err != unix.EBUSY {
			return nil, "", fmt.Errorf("configure %s: %w", dev, err)
		}
	}
	return nil, "", errors.New("no free loop device")
}

// tmpMountOptions are /tmp's ext4 options: the inode tables that mkfs
// left to the kernel stay unwritten until they are needed.
const tmpMountOptions = "noinit_itable"

// openTmp readies the image at path as a sandbox's /tmp: mounted here but
// attached nowhere, for the init stage to move into place, so that the
// mount itself is done while the init stage starts. Where the kernel has
// no mount API for that (before Linux 5.2) it gives the attached loop
// device instead, for the init stage to mount; so does mountAPI false.
// It returns the file to send with the spec, its role and the loop
// device's name.
func openTmp(path string, mountAPI bool) (*os.File, fileRole, string, error) {
	loop, dev, err := attachLoop(path)
	if err != nil {
		return nil, "", "", err
	}
	if !mountAPI {
		return loop, roleTmpDevice, dev, nil
	}
	mnt, err := mountDetached(dev)
	if errors.Is(err, unix.ENOSYS) {
		return loop, roleTmpDevice, dev, nil
	}
	// The mount holds the device now; without one, the device detaches
	// itself.
	loop.Close()
	if err != nil {
		return nil, "", "", fmt.Errorf("mount %s: %w", dev, err)
	}
	return mnt, roleTmpMount, dev, nil
}

// mountDetached mounts the ext4 file system on dev without attaching it
// anywhere, empties it of mkfs's lost+found and opens it to everyone, with
// the sticky bit, as /tmp. The mount goes with the last reference to it:
// the returned file, or the mount namespace it is moved into.
func mountDetached(dev string) (*os.File, error) {
	fsfd, err := unix.Fsopen("ext4", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fsfd)
	if err := unix.FsconfigSetString(fsfd, "source", dev); err != nil {
		return nil, err
	}
	if err := unix.FsconfigSetFlag(fsfd, tmpMountOptions); err != nil {
		return nil, err
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, err
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return nil, err
	}
	mnt := os.NewFile(uintptr(mfd), dev)
	if err := removeLostFoundAt(mfd); err != nil {
		mnt.Close()
		return nil, err
	}
	root, err := unix.Openat(mfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		err = unix.Fchmod(root, unix.S_ISVTX|0o777)
		unix.Close(root)
	}
	if err != nil {
		mnt.Close()
		return nil, fmt.Errorf("mode of /tmp: %w", err)
	}
	return mnt, nil
}

// removeLostFound removes mkfs's lost+found from a new /tmp mounted at
// dir: a new /tmp is empty.
func removeLostFound(dir string) error {
	d, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("remove lost+found: %w", err)
	}
	defer unix.Close(d)
	return removeLostFoundAt(d)
}

func removeLostFoundAt(dirfd int) error {
	if err := unix.Unlinkat(dirfd, "lost+found", unix.AT_REMOVEDIR); err != nil && err != unix.ENOENT {
		return fmt.Errorf("remove lost+found: %w", err)
	}
	return nil
}

// waitDetached waits until the loop device dev no longer holds the file
// at path (absolute, without symbolic links): detached, or reused for
// another file.
func waitDetached(dev, path string, timeout time.Duration) error {
	backing := filepath.Join("/sys/block", filepath.Base(dev), "loop", "backing_file")
	deadline := time.Now().Add(timeout)
	for delay := 100 * time.Microsecond; ; delay = min(2*delay, 50*time.Millisecond) {
		b, err := os.ReadFile(backing)
		// The kernel names a file deleted since with " (deleted)" after.
		name := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), " (deleted)")
		if errors.Is(err, fs.ErrNotExist) || (err == nil && name != path) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still holds %s after %v", dev, path, timeout)
		}
		time.Sleep(delay)
	}
}

// realPath is path absolute and without symbolic links, as the kernel
// shows a loop device's file; path as it is when that fails.
func realPath(path string) string {
	p, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}
