package cgroup

import (
	"maps"
	"math"
	"testing"
)

func TestParseLayout(t *testing.T) {
	for _, c := range []struct {
		name       string
		mountinfo  string
		selfCgroup string
		want       layout
	}{{
		name: "hybrid, ember in a v1 memory group of its own",
		mountinfo: `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`,
		selfCgroup: `9:name=systemd:/
8:pids:/
6:freezer:/
4:memory:/jobs/a1
2:cpuacct:/
1:cpu:/
0::/
`,
		want: layout{
			v1: map[string]string{
				"memory":  "/sys/fs/cgroup/memory/jobs/a1",
				"cpu":     "/sys/fs/cgroup/cpu",
				"pids":    "/sys/fs/cgroup/pids",
				"freezer": "/sys/fs/cgroup/freezer",
			},
			v2Mount: "/sys/fs/cgroup/unified",
			v2Own:   "/sys/fs/cgroup/unified",
		},
	}, {
		name:       "pure v2 under systemd",
		mountinfo:  "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
		selfCgroup: "0::/user.slice/user-1000.slice/session-3.scope\n",
		want: layout{
			v1:      map[string]string{},
			v2Mount: "/sys/fs/cgroup",
			v2Own:   "/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope",
		},
	}, {
		name: "v1 with cpu and cpuacct mounted together",
		mountinfo: `25 19 0:22 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
26 19 0:23 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,memory
27 19 0:24 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,pids
28 19 0:25 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,freezer
`,
		selfCgroup: `5:freezer:/
4:pids:/system.slice/ember.service
3:memory:/system.slice/ember.service
2:cpu,cpuacct:/system.slice/ember.service
`,
		want: layout{
			v1: map[string]string{
				"memory":  "/sys/fs/cgroup/memory/system.slice/ember.service",
				"cpu":     "/sys/fs/cgroup/cpu,cpuacct/system.slice/ember.service",
				"pids":    "/sys/fs/cgroup/pids/system.slice/ember.service",
				"freezer": "/sys/fs/cgroup/freezer",
			},
		},
	}, {
		name: "v1 container that sees only its own part of the hierarchy",
		mountinfo: `600 590 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory
601 590 0:36 /docker/abc /sys/fs/cgroup/pids ro,nosuid - cgroup cgroup rw,pids
`,
		selfCgroup: `8:pids:/docker/abc
4:memory:/docker/abc/inner
`,
		want: layout{
			v1: map[string]string{
				"memory": "/sys/fs/cgroup/memory/inner",
				"pids":   "/sys/fs/cgroup/pids",
			},
		},
	}, {
		name:       "escaped mount point, a group this process can't see",
		mountinfo:  `41 31 0:38 /sub /mnt/cgroup\040two rw,relatime - cgroup2 cgroup2 rw` + "\n",
		selfCgroup: "0::/elsewhere\n",
		want: layout{
			v1:      map[string]string{},
			v2Mount: "/mnt/cgroup two",
			v2Own:   "/mnt/cgroup two",
		},
	}} {
		t.Run(c.name, func(t *testing.T) {
			got := parseLayout([]byte(c.mountinfo), []byte(c.selfCgroup))
			if !maps.Equal(got.v1, c.want.v1) || got.v2Mount != c.want.v2Mount || got.v2Own != c.want.v2Own {
				t.Errorf("parseLayout =\n%+v, want\n%+v", got, c.want)
			}
		})
	}
}

func FuzzParseLayout(f *testing.F) {
	f.Add([]byte("35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"), []byte("4:memory:/a\n0::/\n"))
	f.Add([]byte(`1 2 3 \0 \777 - cgroup2 x y`), []byte("0::"))
	f.Fuzz(func(t *testing.T, mountinfo, selfCgroup []byte) {
		parseLayout(mountinfo, selfCgroup)
	})
}

func TestLimits(t *testing.T) {
	for _, l := range []Limits{{}, {MemoryBytes: 128 << 20, CPU: 0.0724, Pids: 1024}, {CPU: 64}} {
		if err := l.validate(); err != nil {
			t.Errorf("%+v: %v", l, err)
		}
	}
	for _, l := range []Limits{{MemoryBytes: -1}, {CPU: -0.5}, {CPU: math.NaN()}, {CPU: math.Inf(1)}, {CPU: 1e12}, {Pids: -1}} {
		if err := l.validate(); err == nil {
			t.Errorf("%+v was accepted", l)
		}
	}
	for cpus, want := range map[float64]int64{0.0724: 7240, 0.25: 25000, 2: 200000, 0.001: minCPUQuota} {
		if got := cpuQuota(cpus); got != want {
			t.Errorf("cpuQuota(%v) = %d, want %d", cpus, got, want)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, name := range []string{"ember-123", "env-0123abcd-1", "a_b"} {
		if err := checkName(name); err != nil {
			t.Errorf("%q: %v", name, err)
		}
	}
	for _, name := range []string{"", ".", "..", "a/b", "memory.max", "cgroup.procs", "a b", string(make([]byte, 201))} {
		if err := checkName(name); err == nil {
			t.Errorf("%q was accepted", name)
		}
	}
}
