package cgroup

import (
	"bufio"
	"bytes"
	"path/filepath"
	"slices"
	"strings"
)

// v1Controllers are the v1 controllers ember uses; the freezer only where
// the cgroup2 hierarchy cannot freeze.
var v1Controllers = []string{"memory", "cpu", "pids", "freezer"}

// layout is what this process sees of cgroups: the hierarchies ember uses
// and the directory of its own group in each.
type layout struct {
	// v1 maps each v1 controller of v1Controllers that is mounted to the
	// directory of this process's group in its hierarchy.
	v1 map[string]string
	// v2Mount is where the cgroup2 hierarchy is mounted; "" if it is not.
	v2Mount string
	// v2Own is the directory of this process's group in it.
	v2Own string
}

// cgroupMount is one cgroup file system mount.
type cgroupMount struct {
	// point is where it is mounted.
	point string
	// root is the group of its hierarchy that is mounted there.
	root string
	// controllers are the v1 controllers bound to its hierarchy; nil for
	// cgroup2.
	controllers []string
}

// parseLayout reads the layout from the contents of /proc/self/mountinfo
// and /proc/self/cgroup. The first mount of a hierarchy wins.
func parseLayout(mountinfo, selfCgroup []byte) layout {
	var v2 *cgroupMount
	v1 := map[string]*cgroupMount{}
	for _, m := range parseMountinfo(mountinfo) {
		if m.controllers == nil {
			if v2 == nil {
				v2 = &m
			}
			continue
		}
		for _, c := range m.controllers {
			if v1[c] == nil {
				v1[c] = &m
			}
		}
	}
	ownV1, ownV2, hasV2 := parseSelfCgroup(selfCgroup)
	l := layout{v1: map[string]string{}}
	for _, c := range v1Controllers {
		if m := v1[c]; m != nil {
			own, ok := ownV1[c]
			if !ok {
				own = m.root
			}
			l.v1[c] = groupDir(*m, own)
		}
	}
	if v2 != nil {
		if !hasV2 {
			ownV2 = v2.root
		}
		l.v2Mount = v2.point
		l.v2Own = groupDir(*v2, ownV2)
	}
	return l
}

// groupDir is the directory of group (a path in m's hierarchy) under m. A
// group outside the part of the hierarchy mounted there is taken to be the
// mount's top.
func groupDir(m cgroupMount, group string) string {
	rel := group
	if m.root != "/" {
		switch {
		case group == m.root:
			rel = "/"
		case strings.HasPrefix(group, m.root+"/"):
			rel = strings.TrimPrefix(group, m.root)
		default:
			rel = "/"
		}
	}
	return filepath.Join(m.point, rel)
}

// parseMountinfo returns the cgroup and cgroup2 mounts of a mountinfo file:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// with the mount's root and point in fields 4 and 5, optional fields up to
// "-", then the type, the source and the super options, which for cgroup
// name the controllers.
func parseMountinfo(data []byte) []cgroupMount {
	var mounts []cgroupMount
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep < 6 || len(fields) < sep+4 {
			continue
		}
		m := cgroupMount{root: unescapeMountinfo(fields[3]), point: unescapeMountinfo(fields[4])}
		switch fields[sep+1] {
		case "cgroup2":
		case "cgroup":
			m.controllers = []string{}
			for _, opt := range strings.Split(fields[sep+3], ",") {
				if slices.Contains(v1Controllers, opt) {
					m.controllers = append(m.controllers, opt)
				}
			}
			if len(m.controllers) == 0 {
				continue
			}
		default:
			continue
		}
		mounts = append(mounts, m)
	}
	return mounts
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of a path
// in mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// parseSelfCgroup reads /proc/self/cgroup, lines of
// "hierarchy-ID:controller-list:path": the group of each v1 controller, and
// the v2 group (ID 0, no controllers) if there is one.
func parseSelfCgroup(data []byte) (v1 map[string]string, v2 string, hasV2 bool) {
	v1 = map[string]string{}
	for line := range strings.SplitSeq(string(data), "\n") {
		id, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		controllers, path, ok := strings.Cut(rest, ":")
		if !ok || !strings.HasPrefix(path, "/") {
			continue
		}
		if id == "0" && controllers == "" {
			v2, hasV2 = path, true
			continue
		}
		for c := range strings.SplitSeq(controllers, ",") {
			v1[c] = path
		}
	}
	return v1, v2, hasV2
}
