package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/memif-wasm/memif-wasm/host/table"
)

// Per-table metrics, labelled tenant, interface (the table's scope) and table.
var (
	tableLabels       = []string{"tenant", "interface", "table"}
	tableEntries      = desc("table_entries", "Entries in the table (an array: its length).", tableLabels...)
	tableCapacity     = desc("table_capacity", "The most entries the table holds; a put beyond it is refused.", tableLabels...)
	tableUpdates      = desc("table_updates_total", "Changes applied to the table (puts, deletes, clears).", tableLabels...)
	tableFailed       = desc("table_failed_updates_total", "Update requests refused (wrong sizes, full table, missing key); each applied nothing.", tableLabels...)
	tablePublications = desc("table_publications_total", "Times a new version of the table was published to readers.", tableLabels...)
	tableReaders      = desc("table_readers", "Plugin instances that map the table.", tableLabels...)
	tableMemory       = desc("table_memory_bytes", "Shared memory of the table (both copies and the header).", tableLabels...)
)

// TableCollector exports every table of a store, read at scrape time.
type TableCollector struct{ src func() *table.Store }

// NewTableCollector collects the tables of the store src returns (nil: none).
func NewTableCollector(src func() *table.Store) *TableCollector { return &TableCollector{src: src} }

// Describe sends every descriptor.
func (c *TableCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{tableEntries, tableCapacity, tableUpdates, tableFailed, tablePublications, tableReaders, tableMemory} {
		ch <- d
	}
}

// Collect reads every table's counters.
func (c *TableCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.src()
	if st == nil {
		return
	}
	for _, e := range st.List() {
		l := []string{e.Key.Tenant, e.Key.Scope, e.Key.Name}
		s := e.Table.Stats()
		ch <- prometheus.MustNewConstMetric(tableEntries, prometheus.GaugeValue, float64(s.Entries), l...)
		ch <- prometheus.MustNewConstMetric(tableCapacity, prometheus.GaugeValue, float64(s.Capacity), l...)
		ch <- prometheus.MustNewConstMetric(tableUpdates, prometheus.CounterValue, float64(s.Updates), l...)
		ch <- prometheus.MustNewConstMetric(tableFailed, prometheus.CounterValue, float64(s.FailedUpdate), l...)
		ch <- prometheus.MustNewConstMetric(tablePublications, prometheus.CounterValue, float64(s.Publications), l...)
		ch <- prometheus.MustNewConstMetric(tableReaders, prometheus.GaugeValue, float64(e.Table.Readers()), l...)
		ch <- prometheus.MustNewConstMetric(tableMemory, prometheus.GaugeValue, float64(e.Table.Layout().Bytes), l...)
	}
}
