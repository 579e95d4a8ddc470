package daemon

import (
	"context"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchSettle is how long a plugin file must stay quiet after a change
// before it is reloaded: build tools write a file in several steps.
const watchSettle = 150 * time.Millisecond

// watcher reloads plugins when their files change. It watches the
// directories (editors and build tools replace files by renaming, which a
// watch on the file itself would lose) and filters by path.
type watcher struct {
	d    *Daemon
	fs   *fsnotify.Watcher
	done chan struct{}
	wg   sync.WaitGroup

	mu    sync.Mutex
	files map[string]bool // cleaned paths of watched plugin files
	dirs  map[string]bool
}

func newWatcher(d *Daemon) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &watcher{d: d, fs: fw, done: make(chan struct{}), files: map[string]bool{}, dirs: map[string]bool{}}
	w.wg.Add(1)
	go w.loop()
	return w, nil
}

// watchList lists the plugin files to watch. Call with d.mu held.
func (d *Daemon) watchList() []string {
	var files []string
	for _, t := range d.tenants {
		for _, p := range t.ports {
			for _, pl := range p.plugins {
				if pl.cfg.Watched() && pl.cfg.File != "" { // a source is watched by its pull interval
					files = append(files, pl.cfg.File)
				}
			}
		}
	}
	return files
}

// sync makes the watched set equal files.
func (w *watcher) sync(files []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.files = map[string]bool{}
	dirs := map[string]bool{}
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			continue
		}
		w.files[abs] = true
		dirs[filepath.Dir(abs)] = true
	}
	for dir := range dirs {
		if !w.dirs[dir] {
			if err := w.fs.Add(dir); err != nil {
				w.d.log.Warn("cannot watch plugin directory", "dir", dir, "err", err)
				continue
			}
		}
	}
	for dir := range w.dirs {
		if !dirs[dir] {
			w.fs.Remove(dir)
		}
	}
	w.dirs = dirs
}

func (w *watcher) loop() {
	defer w.wg.Done()
	pending := map[string]bool{}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-w.done:
			timer.Stop()
			return
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			if !ev.Has(fsnotify.Write) && !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Rename) {
				continue
			}
			abs, _ := filepath.Abs(ev.Name)
			w.mu.Lock()
			hit := w.files[abs]
			w.mu.Unlock()
			if hit {
				pending[abs] = true
				timer.Reset(watchSettle)
			}
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			w.d.log.Warn("plugin file watch", "err", err)
		case <-timer.C:
			for f := range pending {
				w.d.reloadFile(f)
			}
			clear(pending)
		}
	}
}

func (w *watcher) close() error {
	close(w.done)
	err := w.fs.Close()
	w.wg.Wait()
	return err
}

// reloadFile reloads every watched plugin loaded from file whose content
// changed, compiling without the daemon's lock. Failures are logged and
// counted; the old versions keep running.
func (d *Daemon) reloadFile(file string) {
	type job struct {
		p    *port
		old  *plugin
		spec loadSpec
	}
	var jobs []job
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	for _, t := range d.tenants {
		for _, p := range t.ports {
			for _, pl := range p.plugins {
				abs, _ := filepath.Abs(pl.cfg.File)
				if abs != file || !pl.cfg.Watched() || !pluginChanged(pl, pl.cfg) {
					continue
				}
				jobs = append(jobs, job{p, pl, d.prepareLoad(t, p.cfg, pl.cfg)})
			}
		}
	}
	d.mu.Unlock()
	ctx := context.Background()
	for _, j := range jobs {
		np, err := d.compile(ctx, j.spec)
		d.mu.Lock()
		err = d.swapIn(ctx, j.p, j.old, np, err)
		d.mu.Unlock()
		if err != nil {
			d.log.Error("plugin reload on file change failed", "err", err)
		}
	}
}
