package fuel

import (
	"strings"
	"testing"
)

// dispatchModule is the shape Go's compiler gives every function: a loop
// around a br_table on a "resume address" local, whose targets are the
// ends of nested blocks, and jumps written as "i32.const k; local.set pc;
// br loop". run(pc, n) adds 1, triples, counts n down and loops.
const dispatchModule = `(module
  (func (export "run") (param $pc i32) (param $n i32) (result i32) (local $acc i32)
    block $exit
      loop $L
        block $b2
          block $b1
            block $b0
              local.get $pc
              br_table $b0 $b1 $b2 $exit
            end
            ;; segment 0: 7 instructions
            local.get $acc i32.const 1 i32.add local.set $acc
            i32.const 1 local.set $pc br $L
          end
          ;; segment 1: 4 instructions, then falls into segment 2
          local.get $acc i32.const 3 i32.mul local.set $acc
        end
        ;; segment 2: 7 instructions out, 9 when it jumps back
        local.get $n i32.const 1 i32.sub local.set $n
        local.get $n
        if
          i32.const 0 local.set $pc {{NOP}} br $L
        end
        br $exit
      end
    end
    ;; after $exit: 1 instruction
    local.get $acc))`

// TestFuelDispatch: in a dispatch loop each pass pays the dispatch (2) and
// the segment it jumps to, not the whole loop body, whether the jump pays
// for its target (Go's form) or the br_table does (any other form: a nop
// between local.set and br hides Go's form and is free).
func TestFuelDispatch(t *testing.T) {
	// Charges (default costs): the entry pays the dispatch and its
	// target, looked up by $pc: 2 + (7, 13, 9, 0) for targets 0, 1, 2 and
	// exit (segment 1 pays segment 2 too: it falls in; segment 2 pays its
	// longer arm, 9). Each jump back pays 2 + its target's. $exit's end
	// charges 1.
	const seg0, seg1, seg2, dispatch = 7, 4 + 9, 9, 2
	tests := []struct {
		name   string
		pc, n  uint64
		result uint64
		want   int64
	}{
		// 0: +1 -> 1: *3 -> 2: n=0, exit.
		{"one round", 0, 1, 3, dispatch + seg0 + dispatch + seg1 + 1},
		// Three rounds of +1, *3.
		{"three rounds", 0, 3, 39, 3*(dispatch+seg0) + 3*(dispatch+seg1) + 1},
		// Enter at segment 2: n=0, exit.
		{"enter at 2", 2, 1, 0, dispatch + seg2 + 1},
		// Enter at the exit: only the dispatch and the tail.
		{"enter at exit", 3, 5, 0, dispatch + 1},
		{"out of range is the default", 9, 5, 0, dispatch + 1},
	}
	rt := newRuntime(t)
	for _, form := range []string{"go", "other"} {
		nop := ""
		if form == "other" {
			nop = "nop"
		}
		orig := wat(t, strings.Replace(dispatchModule, "{{NOP}}", nop, 1))
		inst, st := instrument(t, orig, Config{})
		if st.Loops != 1 || st.Functions != 1 || st.Joins != 1 || st.Dispatches != 1 {
			t.Errorf("%s: stats %+v, want 1 function, 1 loop, 1 join, 1 dispatch", form, st)
		}
		a, b := instantiate(t, rt, orig), instantiate(t, rt, inst)
		g := fuelOf(t, b)
		for _, tt := range tests {
			want, err := call(t, a, "run", tt.pc, tt.n)
			if err != nil || want[0] != tt.result {
				t.Fatalf("original run(%d, %d) = %v, %v; want %d", tt.pc, tt.n, want, err, tt.result)
			}
			const budget = 1 << 30
			g.Set(budget)
			got, err := call(t, b, "run", tt.pc, tt.n)
			if err != nil || got[0] != want[0] {
				t.Errorf("%s %s: run = %v, %v; want %d", form, tt.name, got, err, want[0])
			}
			if used := budget - int64(g.Get()); used != tt.want {
				t.Errorf("%s %s: used %d fuel, want %d", form, tt.name, used, tt.want)
			}
		}
	}
}

// TestFuelPaths pins where charges go and what they cover.
func TestFuelPaths(t *testing.T) {
	const src = `(module
	  ;; The code after a loop is paid once by the entry: 5 + 5 per pass.
	  (func (export "tail") (param $n i32) (result i32)
	    (loop $l (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
	    (i32.add (i32.mul (local.get $n) (i32.const 3)) (i32.const 1)))
	  ;; An if pays its longer arm: 2 before, then-arm 5 and the else
	  ;; that jumps past the other arm 1, else-arm 1: 8 either way.
	  (func (export "arms") (param $x i32) (result i32)
	    (if (result i32) (local.get $x)
	      (then (i32.add (i32.mul (local.get $x) (i32.const 2)) (i32.const 1)))
	      (else (i32.const 7))))
	  ;; A block that a branch leaves to charges after its end: the entry
	  ;; pays 2 + the 4 it may skip, the join 3.
	  (func (export "skip") (param $x i32) (result i32) (local $y i32)
	    (block $b
	      (br_if $b (local.get $x))
	      (local.set $y (i32.add (local.get $x) (i32.const 40))))
	    (i32.add (local.get $y) (i32.const 2)))
	  ;; A loop in an arm: after it, the path that entered it goes on, so
	  ;; the arms still meet on the entry's charge: it pays 2, the longer
	  ;; arm (else, 2) and the 1 after; each pass of the loop 5.
	  (func (export "armloop") (param $n i32) (result i32)
	    (if (local.get $n) (then
	      (loop $l (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
	      (else (local.set $n (i32.const 5))))
	    (local.get $n))
	  ;; A join in an arm: the arms meet from different charges, so one
	  ;; more join after the if pays what follows (1). The entry pays 2 +
	  ;; 6 to the inner join (whose charge, 1, is the else); the else-arm
	  ;; is shorter (2).
	  (func (export "armjoin") (param $n i32) (result i32)
	    (if (local.get $n)
	      (then (block $b (br_if $b (i32.gt_u (local.get $n) (i32.const 5))) (local.set $n (i32.const 9))))
	      (else (local.set $n (i32.const 5))))
	    (local.get $n)))`
	tests := []struct {
		fn   string
		arg  uint64
		want int64
	}{
		{"tail", 1, 5 + 5},
		{"tail", 10, 5 + 10*5},
		{"arms", 0, 2 + 5 + 1},
		{"arms", 1, 2 + 5 + 1},
		{"skip", 0, 2 + 4 + 3},
		{"skip", 1, 2 + 4 + 3},
		{"armloop", 0, 2 + 2 + 1},
		{"armloop", 3, 2 + 2 + 1 + 3*5},
		{"armjoin", 0, 8 + 1},
		{"armjoin", 3, 8 + 1 + 1},
		{"armjoin", 7, 8 + 1 + 1},
	}
	rt := newRuntime(t)
	orig := wat(t, src)
	a, b := instantiate(t, rt, orig), instantiate(t, rt, mustInstrument(t, orig, Config{}))
	g := fuelOf(t, b)
	for _, tt := range tests {
		want, werr := call(t, a, tt.fn, tt.arg)
		const budget = 1 << 30
		g.Set(budget)
		got, gerr := call(t, b, tt.fn, tt.arg)
		if werr != nil || gerr != nil || got[0] != want[0] {
			t.Errorf("%s(%d) = %v, %v; original %v, %v", tt.fn, tt.arg, got, gerr, want, werr)
		}
		if used := budget - int64(g.Get()); used != tt.want {
			t.Errorf("%s(%d) used %d fuel, want %d", tt.fn, tt.arg, used, tt.want)
		}
	}
}
