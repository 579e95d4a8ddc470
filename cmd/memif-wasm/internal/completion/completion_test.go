package completion

import (
	"slices"
	"strings"
	"testing"
)

func TestFlags(t *testing.T) {
	help := "Flags:\n  -w, --write string   file\n      --json           print JSON\n  not --a-flag\n"
	if got := Flags(help); !slices.Equal(got, []string{"--write", "--json"}) {
		t.Fatalf("Flags: %v", got)
	}
}

func TestScript(t *testing.T) {
	cmds := []Command{{Name: "run", Help: "      --config string\n"}, {Name: "ctl", Help: "      --json\n", Subs: []string{"list", "stats"}}}
	for _, shell := range []string{"bash", "zsh"} {
		s, err := Script(shell, "memif-wasm", cmds)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"_memif_wasm", "ctl run", `ctl) flags="--json"; subs="list stats" ;;`, `run) flags="--config"; subs="" ;;`} {
			if !strings.Contains(s, want) {
				t.Errorf("%s script lacks %q:\n%s", shell, want, s)
			}
		}
		if strings.Contains(s, "@") {
			t.Errorf("%s script has an unreplaced placeholder:\n%s", shell, s)
		}
	}
	if _, err := Script("fish", "memif-wasm", cmds); err == nil || !strings.Contains(err.Error(), `"fish"`) {
		t.Errorf("fish: %v", err)
	}
}
