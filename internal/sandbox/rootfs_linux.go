package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// hostRootDirs are the host directories that HostRoot shows read-only.
var hostRootDirs = []string{"usr", "lib", "lib64", "lib32", "bin", "sbin"}

// devices are the host devices bound into the sandbox's /dev.
var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

// prebuild builds, on root, what the root of every sandbox of the host's
// programs (Spec.HostRoot) has, before the spec comes: the root tmpfs, the
// host's directories, /proc and /dev.
func prebuild(root string) error {
	// Nothing mounted from here on reaches the host's mount namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=1m"); err != nil {
		return fmt.Errorf("root tmpfs: %w", err)
	}
	if err := bindHostRoot(root); err != nil {
		return err
	}
	return makeProcDev(root)
}

// makeProcDev mounts the sandbox's /proc and makes its /dev.
func makeProcDev(root string) error {
	proc, err := mountPoint(root, "/proc", true)
	if err != nil {
		return fmt.Errorf("/proc: %w", err)
	}
	if err := unix.Mount("proc", proc, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	if err := makeDev(root); err != nil {
		return fmt.Errorf("/dev: %w", err)
	}
	return nil
}

// buildRoot completes the sandbox's file system on spec.Root, which
// prebuild has begun, and makes it the root: binds, /etc and /tmp, then
// pivot_root, and the root made read-only. bindFDs are the files of the
// binds that came with one (initSpec.BindFiles). A spec without HostRoot starts
// again from an empty root, or from its image's layers (Image), with its
// own /proc and /dev.
func buildRoot(spec *initSpec, bindFDs []int) error {
	root := spec.Root
	// fromImage says that root shows an image, whose directories are not
	// empty.
	fromImage := len(spec.Image) > 0
	if !spec.HostRoot {
		if err := unix.Unmount(root, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("undo the root begun: %w", err)
		}
		if fromImage {
			if err := mountLayers(root, spec.Image, spec.NoMountAPI); err != nil {
				return fmt.Errorf("image root: %w", err)
			}
		} else if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=1m"); err != nil {
			return fmt.Errorf("root tmpfs: %w", err)
		}
		if err := makeProcDev(root); err != nil {
			return err
		}
	}

	// Each bind with the file it came with, if any.
	type sentBind struct {
		Bind
		fd int
	}
	binds := make([]sentBind, len(spec.Binds))
	for i, b := range spec.Binds {
		binds[i] = sentBind{b, -1}
		if i < len(spec.BindFiles) && spec.BindFiles[i] && len(bindFDs) > 0 {
			binds[i].fd, bindFDs = bindFDs[0], bindFDs[1:]
		}
	}
	slices.SortStableFunc(binds, func(a, b sentBind) int {
		return strings.Count(filepath.Clean(a.Target), "/") - strings.Count(filepath.Clean(b.Target), "/")
	})
	for i, b := range binds {
		var err error
		if b.fd >= 0 {
			err = moveBind(root, b.Bind, b.fd)
		} else {
			err = bind(root, b.Bind, fromImage)
		}
		if err != nil {
			for _, later := range binds[i+1:] {
				if later.fd >= 0 {
					unix.Close(later.fd)
				}
			}
			return fmt.Errorf("bind %s: %w", b.Target, err)
		}
	}
	if err := makeEtc(spec, root); err != nil {
		return fmt.Errorf("/etc: %w", err)
	}
	if err := mountTmp(spec, root); err != nil {
		return fmt.Errorf("/tmp: %w", err)
	}

	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	// The old root ends up on top of the new one, at the same place:
	// detaching it there leaves only the new root.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	// An image's overlay too: its upper directory, on a tmpfs that is
	// mounted nowhere now, would take what the command writes.
	if err := remountReadOnly("/"); err != nil {
		return fmt.Errorf("root read-only: %w", err)
	}
	return nil
}

// bindReadOnly binds src at dst, read-only, without set-user-ID programs
// or devices. Mounts below src are not included.
func bindReadOnly(src, dst string) error {
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s: %w", src, err)
	}
	return remountReadOnly(dst)
}

func remountReadOnly(dst string) error {
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV)
	if err := unix.Mount("", dst, "", flags, ""); err != nil {
		return fmt.Errorf("remount %s read-only: %w", dst, err)
	}
	return nil
}

// bindHostRoot shows the host's program and library directories in root.
func bindHostRoot(root string) error {
	for _, name := range hostRootDirs {
		host := "/" + name
		fi, err := os.Lstat(host)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("host root: %w", err)
		}
		dst := filepath.Join(root, name)
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(host)
			if err != nil {
				return fmt.Errorf("host root: %w", err)
			}
			if err := os.Symlink(link, dst); err != nil {
				return fmt.Errorf("host root: %w", err)
			}
		case fi.IsDir():
			if err := os.Mkdir(dst, 0o755); err != nil {
				return fmt.Errorf("host root: %w", err)
			}
			if err := bindReadOnly(host, dst); err != nil {
				return fmt.Errorf("host root: %w", err)
			}
		}
	}
	return nil
}

// bind mounts one Bind into root.
func bind(root string, b Bind, fromImage bool) error {
	var src fs.FileInfo
	if b.Source != "" {
		fi, err := os.Stat(b.Source)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		src = fi
	}
	dst, err := mountPoint(root, b.Target, src == nil || src.IsDir())
	if err != nil {
		return err
	}
	if src == nil {
		// An empty read-only directory: the read-only root already is
		// one, an image's directory is not.
		if !fromImage {
			return nil
		}
		return unix.Mount("tmpfs", dst, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=4k,mode=0755")
	}
	if err := unix.Mount(b.Source, dst, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	if b.Writable {
		return unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_NOSUID|unix.MS_NODEV, "")
	}
	return remountReadOnly(dst)
}

// mountPoint returns the host path of target inside root, creating it as a
// directory or an empty file when missing. It refuses a path through a
// symbolic link, which could lead a mount out of root.
func mountPoint(root, target string, dir bool) (string, error) {
	rel, err := filepath.Rel("/", filepath.Clean(target))
	if err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("mount point %q outside the root", target)
	}
	p := root
	parts := strings.Split(rel, string(filepath.Separator))
	for i, part := range parts {
		p = filepath.Join(p, part)
		last := i == len(parts)-1
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if last && !dir {
				f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
				if err != nil {
					return "", missingMountPoint(target, err)
				}
				f.Close()
				return p, nil
			}
			if err := os.Mkdir(p, 0o755); err != nil {
				return "", missingMountPoint(target, err)
			}
		case err != nil:
			return "", fmt.Errorf("mount point: %w", err)
		case fi.Mode()&fs.ModeSymlink != 0:
			return "", fmt.Errorf("mount point %s: %s is a symbolic link", target, "/"+filepath.Join(parts[:i+1]...))
		case !last && !fi.IsDir():
			return "", fmt.Errorf("mount point %s: %s is not a directory", target, "/"+filepath.Join(parts[:i+1]...))
		case last && fi.IsDir() != dir:
			return "", fmt.Errorf("mount point %s: a file and a directory", target)
		}
	}
	return p, nil
}

// missingMountPoint is the error of a mount point that could not be made.
func missingMountPoint(target string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("mount point %s is missing and cannot be made: %w", target, err)
}

// makeEtc writes spec.Etc as the sandbox's /etc: on the root tmpfs with
// the host's CA certificates, or, on an image, over the image's /etc.
func makeEtc(spec *initSpec, root string) error {
	etc, err := mountPoint(root, "/etc", true)
	if err != nil {
		return err
	}
	if len(spec.Image) > 0 {
		return writeImageEtc(root, spec.Etc)
	}
	if err := writeFiles(etc, spec.Etc); err != nil {
		return err
	}
	// The host's CA certificates, unless the spec has certificates of its
	// own.
	for name := range spec.Etc {
		if strings.HasPrefix(name, "ssl/") {
			return nil
		}
	}
	const certs = "/etc/ssl/certs"
	if fi, err := os.Stat(certs); err != nil || !fi.IsDir() {
		return nil
	}
	dst, err := mountPoint(root, certs, true)
	if err != nil {
		return err
	}
	return bindReadOnly(certs, dst)
}

// writeFiles writes files, by names relative to dir, into dir.
func writeFiles(dir string, files map[string]string) error {
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// makeDev makes the sandbox's minimal /dev: the host's harmless devices,
// the links to /proc/self/fd and a /dev/shm.
func makeDev(root string) error {
	dev, err := mountPoint(root, "/dev", true)
	if err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755,size=64k"); err != nil {
		return err
	}
	for _, name := range devices {
		dst := filepath.Join(dev, name)
		if err := os.WriteFile(dst, nil, 0o644); err != nil {
			return err
		}
		if err := unix.Mount("/dev/"+name, dst, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind /dev/%s: %w", name, err)
		}
	}
	links := [][2]string{
		{"/proc/self/fd", "fd"},
		{"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"},
	}
	for _, l := range links {
		if err := os.Symlink(l[0], filepath.Join(dev, l[1])); err != nil {
			return err
		}
	}
	shm := filepath.Join(dev, "shm")
	if err := os.Mkdir(shm, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777,size=64m"); err != nil {
		return fmt.Errorf("/dev/shm: %w", err)
	}
	return remountReadOnly(dev)
}

// mountTmp mounts the sandbox's /tmp: the file system that the host side
// sends, mounted already or as its loop device, or a tmpfs; writable by
// everyone with the sticky bit.
func mountTmp(spec *initSpec, root string) error {
	tmp, err := mountPoint(root, "/tmp", true)
	if err != nil {
		return err
	}
	if !spec.Tmp {
		if err := unix.Mount("tmpfs", tmp, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("size=%dm", spec.TmpSizeMB)); err != nil {
			return err
		}
		return os.Chmod(tmp, os.ModeSticky|0o777)
	}
	msg, fd, err := receiveTmp(fdSpec)
	if err != nil {
		return err
	}
	// The mount holds what fd refers to now: the file system goes, and
	// its loop device detaches itself, with the sandbox's mount namespace.
	defer unix.Close(fd)
	switch msg.Role {
	case roleTmpMount:
		// Made ready by the host side: lost+found gone and mode set.
		return unix.MoveMount(fd, "", unix.AT_FDCWD, tmp, unix.MOVE_MOUNT_F_EMPTY_PATH)
	case roleTmpDevice:
		if err := unix.Mount(msg.Device, tmp, "ext4", unix.MS_NOSUID|unix.MS_NODEV, tmpMountOptions); err != nil {
			return err
		}
		if err := removeLostFound(tmp); err != nil {
			return err
		}
		return os.Chmod(tmp, os.ModeSticky|0o777)
	}
	return fmt.Errorf("unknown file system role %q", msg.Role)
}
