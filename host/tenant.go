package host

import (
	"errors"
	"fmt"
	"slices"
	"sync"
)

// ErrBudget is wrapped by the error of an instantiation that would exceed a
// plugin's or a tenant's instance or memory budget.
var ErrBudget = errors.New("host: budget exceeded")

// ErrForeignRegion is returned by AttachRegion when the region belongs to an
// interface of another tenant than the pipeline's (or to no tenant).
var ErrForeignRegion = errors.New("host: buffer region belongs to another tenant")

// TenantConfig describes a tenant. The zero value (but for Name) is a tenant
// with no limits of its own and no REDIRECT targets.
type TenantConfig struct {
	Name string
	// Ports are the REDIRECT targets (Worker port numbers) the tenant's
	// plugins may name; a plugin's PluginConfig.Redirect must be a subset.
	Ports []uint16
	// MaxInstances bounds the live instances of all the tenant's plugins
	// together. 0: no tenant-wide bound (each plugin still has its own).
	MaxInstances int
	// MaxMemoryPages bounds the linear memory (64 KiB pages) reserved by all
	// the tenant's live instances together; a plugin whose own cap exceeds it
	// is refused at load. 0: no tenant-wide bound.
	MaxMemoryPages uint64
	// Fuel, ColdFuel and Stack are the budgets of the tenant's plugins that
	// set none (see PluginConfig). 0: DefaultFuel, DefaultColdFuel,
	// DefaultStack.
	Fuel, ColdFuel int64
	Stack          int64
}

// Tenant owns plugins (PluginConfig.Tenant), the pipelines made of them and
// the interfaces (Port.Tenant) they serve. It enforces that a tenant's
// instances see only its own interfaces' buffer regions, REDIRECT only to its
// ports, and stay within its budgets; it sums its pipelines' counters. It is
// safe for concurrent use.
type Tenant struct {
	cfg TenantConfig

	budgetMu  sync.Mutex
	instances int
	pages     uint64
	refused   uint64

	listMu    sync.Mutex
	pipelines map[*Pipeline]struct{}
	closed    PluginStats // counters of pipelines and stages already closed
}

// TenantStats are a tenant's aggregate counters and budget use.
type TenantStats struct {
	// Plugins sums the counters of every plugin stage in the tenant's
	// pipelines, open and closed.
	Plugins PluginStats
	// Instances and MemoryPages are in use now; Refused counts
	// instantiations refused by a budget (the tenant's or a plugin's).
	Instances   int
	MemoryPages uint64
	Refused     uint64
}

// NewTenant checks cfg and makes a tenant.
func NewTenant(cfg TenantConfig) (*Tenant, error) {
	if cfg.Name == "" {
		return nil, errors.New("host: a tenant needs a name")
	}
	if cfg.MaxInstances < 0 || cfg.Fuel < 0 || cfg.ColdFuel < 0 || cfg.Fuel > MaxFuel || cfg.ColdFuel > MaxFuel {
		return nil, fmt.Errorf("host: tenant %q: negative or oversized budget", cfg.Name)
	}
	cfg.Ports = slices.Clone(cfg.Ports)
	return &Tenant{cfg: cfg, pipelines: map[*Pipeline]struct{}{}}, nil
}

// Name returns the tenant's name.
func (t *Tenant) Name() string { return t.cfg.Name }

func (t *Tenant) allowsPort(p uint16) bool { return slices.Contains(t.cfg.Ports, p) }

// String names the tenant for errors; a nil tenant is "none".
func (t *Tenant) String() string {
	if t == nil {
		return "none"
	}
	return t.cfg.Name
}

// reserve books one instance of pages pages, or says which budget refuses.
func (t *Tenant) reserve(pages uint32) error {
	t.budgetMu.Lock()
	defer t.budgetMu.Unlock()
	switch {
	case t.cfg.MaxInstances > 0 && t.instances >= t.cfg.MaxInstances:
		t.refused++
		return fmt.Errorf("%w: tenant %q already runs %d instances", ErrBudget, t.cfg.Name, t.instances)
	case t.cfg.MaxMemoryPages > 0 && t.pages+uint64(pages) > t.cfg.MaxMemoryPages:
		t.refused++
		return fmt.Errorf("%w: tenant %q has %d of %d memory pages in use, an instance needs %d",
			ErrBudget, t.cfg.Name, t.pages, t.cfg.MaxMemoryPages, pages)
	}
	t.instances++
	t.pages += uint64(pages)
	return nil
}

func (t *Tenant) release(pages uint32) {
	t.budgetMu.Lock()
	defer t.budgetMu.Unlock()
	t.instances--
	t.pages -= uint64(pages)
}

func (t *Tenant) countRefused() {
	t.budgetMu.Lock()
	t.refused++
	t.budgetMu.Unlock()
}

func (t *Tenant) addPipeline(p *Pipeline) {
	t.listMu.Lock()
	t.pipelines[p] = struct{}{}
	t.listMu.Unlock()
}

// removePipeline folds a closed pipeline's final counters into the tenant's.
func (t *Tenant) removePipeline(p *Pipeline, final []PluginStats) {
	t.listMu.Lock()
	defer t.listMu.Unlock()
	if _, ok := t.pipelines[p]; !ok {
		return
	}
	delete(t.pipelines, p)
	for i := range final {
		t.closed.Add(&final[i])
	}
}

// retire folds the final counters of a stage a reshape dropped into the
// tenant's.
func (t *Tenant) retire(st *PluginStats) {
	t.listMu.Lock()
	t.closed.Add(st)
	t.listMu.Unlock()
}

// ReadStats sums the counters of the tenant's pipelines and reports its
// budget use.
func (t *Tenant) ReadStats() TenantStats {
	var st TenantStats
	// Pipelines are read outside listMu: a pipeline's lock may be held by a
	// restart that is waiting for budgetMu, and neither lock nests in the other.
	t.listMu.Lock()
	st.Plugins = t.closed
	ps := make([]*Pipeline, 0, len(t.pipelines))
	for p := range t.pipelines {
		ps = append(ps, p)
	}
	t.listMu.Unlock()
	var buf []PluginStats
	for _, p := range ps {
		buf = p.ReadStats(buf[:0])
		for i := range buf {
			st.Plugins.Add(&buf[i])
		}
	}
	t.budgetMu.Lock()
	st.Instances, st.MemoryPages, st.Refused = t.instances, t.pages, t.refused
	t.budgetMu.Unlock()
	return st
}
