package testpmd

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestConfigArgs(t *testing.T) {
	cfg := &Config{
		Ports: []Port{
			{Role: RoleServer, Socket: "/tmp/x/memif.sock", ID: 7, BufferSize: 4096, LogRingSize: 11, Secret: "s3cret", MAC: "02:00:00:00:00:aa"},
			{Role: RoleClient, Socket: "@memif-abstract"},
		},
		ForwardMode: "macswap",
		RxQueues:    2,
		TxQueues:    2,
		Lcores:      "0@0,1@1",
		ExtraArgs:   []string{"--rss-udp"},
	}
	c, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	got := c.args("pfx")
	want := []string{
		"--lcores", "0@0,1@1", "--no-huge", "--no-pci", "--no-shconf", "--no-telemetry",
		"-m", "64", "--file-prefix", "pfx", "--log-level", "pmd.net.memif:info",
		"--vdev", "net_memif0,role=server,id=7,socket=/tmp/x/memif.sock,socket-abstract=no,bsize=4096,rsize=11,secret=s3cret,mac=02:00:00:00:00:aa",
		"--vdev", "net_memif1,role=client,id=0,socket=memif-abstract,socket-abstract=yes",
		"--", "-i", "--no-mlockall", "--total-num-mbufs=8192", "--forward-mode=macswap",
		"--port-topology=paired", "--rxq=2", "--txq=2", "--nb-cores=1", "--burst=32", "--txpkts=64",
		"--rss-udp",
	}
	if !slices.Equal(got, want) {
		t.Errorf("args:\n got %q\nwant %q", got, want)
	}
	if c.Timeout != 30*time.Second || c.Binary == "" {
		t.Errorf("defaults not applied: %+v", c)
	}
	// The caller's slices are copied, not aliased.
	c.Ports[0].ID = 99
	if cfg.Ports[0].ID != 7 {
		t.Error("withDefaults aliases the caller's Ports")
	}
}

func TestConfigOddPortCountUsesLoopTopology(t *testing.T) {
	c, err := (&Config{Ports: []Port{{Role: RoleServer, Socket: "/s"}}}).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if args := c.args("p"); !slices.Contains(args, "--port-topology=loop") {
		t.Errorf("one port without loop topology: %q", args)
	}
}

func TestDefaultLcores(t *testing.T) {
	for _, tt := range []struct {
		cores, cpus int
		want        string
	}{
		{1, 1, "(0-1)@0"},
		{1, 2, "(0-1)@(0-1)"},
		{2, 8, "(0-2)@(0-7)"},
	} {
		if got := defaultLcores(tt.cores, tt.cpus); got != tt.want {
			t.Errorf("defaultLcores(%d, %d) = %q, want %q", tt.cores, tt.cpus, got, tt.want)
		}
	}
}

func TestConfigRejects(t *testing.T) {
	port := Port{Role: RoleServer, Socket: "/tmp/memif.sock"}
	with := func(f func(*Config)) *Config {
		c := &Config{Ports: []Port{port}}
		f(c)
		return c
	}
	tests := []struct {
		name    string
		cfg     *Config
		wantErr string
	}{
		{"nil config", nil, "no ports"},
		{"no ports", &Config{}, "no ports"},
		{"too many ports", with(func(c *Config) { c.Ports = make([]Port, 33) }), "33 ports"},
		{"zero role", with(func(c *Config) { c.Ports[0].Role = 0 }), "neither server nor client"},
		{"unknown role", with(func(c *Config) { c.Ports[0].Role = 3 }), "Role(3) is neither"},
		{"no socket", with(func(c *Config) { c.Ports[0].Socket = "" }), "no socket"},
		{"bare @", with(func(c *Config) { c.Ports[0].Socket = "@" }), "no socket"},
		{"socket too long", with(func(c *Config) { c.Ports[0].Socket = "/" + strings.Repeat("s", 107) }), "longer than sun_path"},
		{"devargs injection in socket", with(func(c *Config) { c.Ports[0].Socket = "/tmp/a,zero-copy=yes" }), "devargs cannot carry"},
		{"devargs injection in secret", with(func(c *Config) { c.Ports[0].Secret = "a,role=client" }), "secret contains"},
		{"secret too long", with(func(c *Config) { c.Ports[0].Secret = strings.Repeat("s", 25) }), "at most 24"},
		{"zero-copy server", with(func(c *Config) { c.Ports[0].ZeroCopy = true }), "zero-copy is a client's option"},
		{"buffer size", with(func(c *Config) { c.Ports[0].BufferSize = 65536 }), "buffer size 65536"},
		{"negative buffer size", with(func(c *Config) { c.Ports[0].BufferSize = -1 }), "buffer size -1"},
		{"ring size", with(func(c *Config) { c.Ports[0].LogRingSize = 15 }), "ring size 15"},
		{"bad MAC", with(func(c *Config) { c.Ports[0].MAC = "02:00:00:00:00" }), "not of the form"},
		{"bad MAC digit", with(func(c *Config) { c.Ports[0].MAC = "02:00:00:00:00:0g" }), "not of the form"},
		{"forward mode", with(func(c *Config) { c.ForwardMode = "io\nquit" }), "is not one of"},
		{"queues", with(func(c *Config) { c.RxQueues = 256 }), "RxQueues 256 out of range"},
		{"tx packet length", with(func(c *Config) { c.TxPacketLen = 60 }), "TxPacketLen 60 out of range"},
		{"burst", with(func(c *Config) { c.Burst = -4 }), "Burst -4 out of range"},
		{"memory", with(func(c *Config) { c.MemoryMB = 8 }), "MemoryMB 8 out of range"},
		{"lcores", with(func(c *Config) { c.Lcores = "0 1" }), "white space"},
		{"timeout", with(func(c *Config) { c.Timeout = -time.Second }), "negative timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.cfg.withDefaults()
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want ErrInvalidConfig mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestRoleString(t *testing.T) {
	if RoleServer.String() != "server" || RoleClient.String() != "client" || Role(0).String() != "Role(0)" {
		t.Error("Role.String")
	}
}
