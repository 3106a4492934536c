// Command loadgen drives Cohort's /v1 coordination API and etcd 3.4's JSON gateway with the same HTTP
// client, the same worker loop and the same latency accounting, so the two are compared like for like.
// Standard library only (built by Benchmarks/scripts/coordination_vs_etcd.py with `go build`).
//
//	loadgen run   --system cohort|etcd --op put|cas|lock|name|list --url URL [--count N | --duration S] ...
//	loadgen watch --system cohort|etcd --url URL[,URL...] --write-url URL --watchers W --writes K ...
//
// Both print one JSON object on standard output.
//
// The operations are built in rather than given as URL and body templates because compare-and-swap and
// lock release depend on the previous reply (the version to compare, the lock's owner key): each
// operation is one request (put, cas, list) or two (lock acquire+release, name register+unregister),
// and its latency is the time of all its requests together. The two requests of a two-request operation are
// also timed each on its own ("steps" in the output: acquire/release, register/unregister, lock/unlock), as
// each is one write: SPEC's write targets are per write.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen run|watch [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runCommand(os.Args[2:])
	case "watch":
		err = watchCommand(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (run or watch)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// ---------------------------------------------------------------- shared

func newTransport(connections int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        connections + 16,
		MaxIdleConnsPerHost: connections + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// prefixEnd is etcd's range end for "every key starting with prefix".
func prefixEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return "\x00"
}

type client struct {
	http    *http.Client
	base    string
	timeout time.Duration
}

// do sends one request and reads the whole reply; an unexpected status is an error carrying the body.
func (c *client) do(method, path string, body []byte, want int) ([]byte, error) {
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	request, err := http.NewRequestWithContext(ctx, method, c.base+path, reader)
	if err != nil {
		return nil, err
	}
	if body != nil {
		request.Header.Set("Content-Type", "application/json")
	}
	response, err := c.http.Do(request)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(response.Body)
	response.Body.Close()
	if err != nil {
		return nil, err
	}
	if response.StatusCode != want {
		return data, fmt.Errorf("%s %s: %d %s", method, path, response.StatusCode, truncate(data))
	}
	return data, nil
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)) * p)
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

func cpuSeconds() float64 {
	var usage syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &usage) != nil {
		return 0
	}
	return float64(usage.Utime.Nano()+usage.Stime.Nano()) / 1e9
}

func emit(v interface{}) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	fmt.Println(string(data))
	return nil
}

// ---------------------------------------------------------------- run: one operation, repeated

type settings struct {
	system, op, store, prefix, pid string
	valueSize, keyWidth, keys      int
	unique                         bool
}

// worker holds one caller's state: its own key or lock, the version it last wrote, its etcd lease.
type worker struct {
	id      int
	c       *client
	s       *settings
	value   string
	key     string
	version string // cohort: version; etcd: mod_revision
	lease   string
	rng     *rand.Rand
	// steps: per request of a two-request operation, its latency in ms (measured operations only).
	steps map[string][]float64
}

// step runs one request of a two-request operation and, unless it is a warm-up (i < 0), records its time
// under name.
func (w *worker) step(name string, i int64, request func() ([]byte, error)) ([]byte, error) {
	t := time.Now()
	data, err := request()
	if err == nil && i >= 0 {
		if w.steps == nil {
			w.steps = map[string][]float64{}
		}
		w.steps[name] = append(w.steps[name], float64(time.Since(t).Microseconds())/1000)
	}
	return data, err
}

func (w *worker) keyFor(i int64) string {
	if w.s.unique {
		return fmt.Sprintf("%s%0*d", w.s.prefix, w.s.keyWidth, i)
	}
	return w.key
}

// setup runs before the clock starts: what an operation needs to exist already.
func (w *worker) setup() error {
	switch {
	case w.s.op == "cas" && w.s.system == "cohort":
		data, err := w.c.do("PUT", "/v1/kv/"+w.key+"?store="+url.QueryEscape(w.s.store), w.cohortValue(), 200)
		if err != nil {
			return err
		}
		var reply struct{ Version uint64 }
		if err := json.Unmarshal(data, &reply); err != nil {
			return err
		}
		w.version = strconv.FormatUint(reply.Version, 10)
	case w.s.op == "cas" && w.s.system == "etcd":
		data, err := w.c.do("POST", "/v3/kv/put", w.etcdPut(w.key), 200)
		if err != nil {
			return err
		}
		revision, err := etcdRevision(data)
		if err != nil {
			return err
		}
		w.version = revision
	case w.s.op == "lock" && w.s.system == "etcd":
		data, err := w.c.do("POST", "/v3/lease/grant", []byte(`{"TTL":3600}`), 200)
		if err != nil {
			return err
		}
		var reply struct{ ID string }
		if err := json.Unmarshal(data, &reply); err != nil || reply.ID == "" {
			return fmt.Errorf("lease grant: %s", truncate(data))
		}
		w.lease = reply.ID
	}
	return nil
}

func (w *worker) cohortValue() []byte {
	body, _ := json.Marshal(map[string]string{"value": w.value})
	return body
}

func (w *worker) etcdPut(key string) []byte {
	body, _ := json.Marshal(map[string]string{"key": b64(key), "value": b64(w.value)})
	return body
}

func etcdRevision(data []byte) (string, error) {
	var reply struct {
		Header struct{ Revision string } `json:"header"`
	}
	if err := json.Unmarshal(data, &reply); err != nil || reply.Header.Revision == "" {
		return "", fmt.Errorf("no header.revision in %s", truncate(data))
	}
	return reply.Header.Revision, nil
}

// operation performs one operation (all its requests).
func (w *worker) operation(i int64) error {
	s := w.s
	store := "?store=" + url.QueryEscape(s.store)
	switch s.system + "/" + s.op {
	case "cohort/put":
		_, err := w.c.do("PUT", "/v1/kv/"+w.keyFor(i)+store, w.cohortValue(), 200)
		return err
	case "etcd/put":
		_, err := w.c.do("POST", "/v3/kv/put", w.etcdPut(w.keyFor(i)), 200)
		return err
	case "cohort/cas":
		version, _ := strconv.ParseUint(w.version, 10, 64)
		body, _ := json.Marshal(map[string]interface{}{
			"compare": []interface{}{map[string]interface{}{"key": w.key, "version": version}},
			"success": []interface{}{map[string]interface{}{"op": "put", "key": w.key, "value": w.value}},
		})
		data, err := w.c.do("POST", "/v1/txn"+store, body, 200)
		if err != nil {
			return err
		}
		var reply struct {
			Succeeded bool
			Results   []struct{ Version uint64 }
		}
		if err := json.Unmarshal(data, &reply); err != nil {
			return err
		}
		if !reply.Succeeded || len(reply.Results) != 1 {
			return fmt.Errorf("cas did not succeed: %s", truncate(data))
		}
		w.version = strconv.FormatUint(reply.Results[0].Version, 10)
		return nil
	case "etcd/cas":
		body, _ := json.Marshal(map[string]interface{}{
			"compare": []interface{}{map[string]interface{}{
				"key": b64(w.key), "target": "MOD", "result": "EQUAL", "mod_revision": w.version,
			}},
			"success": []interface{}{map[string]interface{}{
				"request_put": map[string]string{"key": b64(w.key), "value": b64(w.value)},
			}},
		})
		data, err := w.c.do("POST", "/v3/kv/txn", body, 200)
		if err != nil {
			return err
		}
		var reply struct {
			Header    struct{ Revision string } `json:"header"`
			Succeeded bool                      `json:"succeeded"`
		}
		if err := json.Unmarshal(data, &reply); err != nil {
			return err
		}
		if !reply.Succeeded {
			return fmt.Errorf("cas did not succeed: %s", truncate(data))
		}
		w.version = reply.Header.Revision
		return nil
	case "cohort/lock":
		name := "/v1/locks/" + w.key
		body, _ := json.Marshal(map[string]string{"holder": s.pid})
		if _, err := w.step("acquire", i, func() ([]byte, error) { return w.c.do("POST", name, body, 200) }); err != nil {
			return err
		}
		_, err := w.step("release", i, func() ([]byte, error) {
			return w.c.do("DELETE", name+"?holder="+url.QueryEscape(s.pid), nil, 204)
		})
		return err
	case "etcd/lock":
		body, _ := json.Marshal(map[string]string{"name": b64(w.key), "lease": w.lease})
		data, err := w.step("acquire", i, func() ([]byte, error) { return w.c.do("POST", "/v3/lock/lock", body, 200) })
		if err != nil {
			return err
		}
		var reply struct{ Key string }
		if err := json.Unmarshal(data, &reply); err != nil || reply.Key == "" {
			return fmt.Errorf("lock: no key in %s", truncate(data))
		}
		body, _ = json.Marshal(map[string]string{"key": reply.Key})
		_, err = w.step("release", i, func() ([]byte, error) { return w.c.do("POST", "/v3/lock/unlock", body, 200) })
		return err
	case "cohort/name":
		body, _ := json.Marshal(map[string]string{"name": w.key, "pid": s.pid})
		if _, err := w.step("register", i, func() ([]byte, error) { return w.c.do("POST", "/v1/names", body, 201) }); err != nil {
			return err
		}
		_, err := w.step("unregister", i, func() ([]byte, error) {
			return w.c.do("DELETE", "/v1/names/"+w.key+"?pid="+url.QueryEscape(s.pid), nil, 204)
		})
		return err
	case "cohort/list", "etcd/list":
		// A random 100-key prefix: keys are prefix + zero-padded index, so dropping the last two digits
		// leaves a prefix shared by exactly 100 keys.
		groups := s.keys / 100
		if groups < 1 {
			groups = 1
		}
		prefix := fmt.Sprintf("%s%0*d", s.prefix, s.keyWidth-2, w.rng.Intn(groups))
		var count int
		if s.system == "cohort" {
			data, err := w.c.do("GET", "/v1/kv"+store+"&limit=100&prefix="+url.QueryEscape(prefix), nil, 200)
			if err != nil {
				return err
			}
			var entries []json.RawMessage
			if err := json.Unmarshal(data, &entries); err != nil {
				return err
			}
			count = len(entries)
		} else {
			body, _ := json.Marshal(map[string]interface{}{"key": b64(prefix), "range_end": b64(prefixEnd(prefix)), "limit": 100})
			data, err := w.c.do("POST", "/v3/kv/range", body, 200)
			if err != nil {
				return err
			}
			var reply struct{ Kvs []json.RawMessage }
			if err := json.Unmarshal(data, &reply); err != nil {
				return err
			}
			count = len(reply.Kvs)
		}
		if count != 100 && s.keys >= 100 {
			return fmt.Errorf("list %q: %d entries, not 100", prefix, count)
		}
		return nil
	}
	return fmt.Errorf("no operation %s for %s", s.op, s.system)
}

func runCommand(arguments []string) error {
	flags := flag.NewFlagSet("run", flag.ExitOnError)
	s := &settings{}
	flags.StringVar(&s.system, "system", "cohort", "cohort or etcd")
	flags.StringVar(&s.op, "op", "put", "put, cas, lock, name (cohort only) or list")
	baseURL := flags.String("url", "", "http://host:port of the node to send to")
	flags.StringVar(&s.store, "store", "default", "cohort: the store")
	flags.StringVar(&s.prefix, "prefix", "bench/", "key, lock or name prefix")
	flags.StringVar(&s.pid, "pid", "", "cohort lock and name: the holder's PID (a session)")
	flags.IntVar(&s.valueSize, "value-size", 64, "bytes per value")
	flags.BoolVar(&s.unique, "unique", false, "put: a new key per operation (prefix + zero-padded index) instead of one key per caller")
	flags.IntVar(&s.keyWidth, "key-width", 8, "digits of the index in --unique and --op list keys")
	flags.IntVar(&s.keys, "keys", 0, "list: how many keys were loaded with --unique")
	concurrency := flags.Int("concurrency", 1, "callers, each with its own keep-alive connection")
	count := flags.Int64("count", 0, "operations in all (split between callers); or give --duration")
	duration := flags.Duration("duration", 0, "run for this long")
	warmup := flags.Int("warmup", 20, "operations per caller before the clock starts")
	timeout := flags.Duration("timeout", 10*time.Second, "per request")
	maxErrors := flags.Int64("max-errors", 1000, "stop after this many errors")
	flags.Parse(arguments)
	if *baseURL == "" || (*count <= 0) == (*duration <= 0) {
		return errors.New("give --url and exactly one of --count or --duration")
	}
	if (s.op == "lock" || s.op == "name") && s.system == "cohort" && s.pid == "" {
		return errors.New("--pid is required for cohort locks and names")
	}

	transport := newTransport(*concurrency)
	httpClient := &http.Client{Transport: transport}
	value := strings.Repeat("x", s.valueSize)
	workers := make([]*worker, *concurrency)
	for k := range workers {
		workers[k] = &worker{
			id: k, s: s, value: value, key: fmt.Sprintf("%sw%d", s.prefix, k),
			c:   &client{http: httpClient, base: strings.TrimRight(*baseURL, "/"), timeout: *timeout},
			rng: rand.New(rand.NewSource(int64(k) + 1)),
		}
	}
	// Setup and warm-up (connections open, keys exist) before the clock starts.
	var setupErr error
	var setupOnce sync.Once
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			if err := w.setup(); err != nil {
				setupOnce.Do(func() { setupErr = fmt.Errorf("setup of caller %d: %w", w.id, err) })
				return
			}
			// A failed warm-up operation (a leader change, say) is retried, up to 5 failures per caller.
			for j, failures := 0, 0; j < *warmup && !s.unique; j++ {
				if err := w.operation(int64(-1)); err != nil {
					if failures++; failures >= 5 {
						setupOnce.Do(func() { setupErr = fmt.Errorf("warm-up of caller %d: %w", w.id, err) })
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		}(w)
	}
	wg.Wait()
	if setupErr != nil {
		return setupErr
	}

	var next, errorCount int64
	var firstError atomic.Value
	samples := make([][]float64, len(workers))
	cpuBefore := cpuSeconds()
	started := time.Now()
	deadline := started.Add(*duration)
	for k, w := range workers {
		wg.Add(1)
		go func(k int, w *worker) {
			defer wg.Done()
			local := make([]float64, 0, 1024)
			for atomic.LoadInt64(&errorCount) < *maxErrors {
				var i int64
				if *count > 0 {
					i = atomic.AddInt64(&next, 1) - 1
					if i >= *count {
						break
					}
				} else if time.Now().After(deadline) {
					break
				}
				t := time.Now()
				if err := w.operation(i); err != nil {
					atomic.AddInt64(&errorCount, 1)
					firstError.CompareAndSwap(nil, err.Error())
					continue
				}
				local = append(local, float64(time.Since(t).Microseconds())/1000)
			}
			samples[k] = local
		}(k, w)
	}
	wg.Wait()
	elapsed := time.Since(started).Seconds()
	cpu := cpuSeconds() - cpuBefore
	var all []float64
	for _, local := range samples {
		all = append(all, local...)
	}
	sort.Float64s(all)
	result := map[string]interface{}{
		"system": s.system, "op": s.op, "concurrency": *concurrency, "ops": len(all), "errors": errorCount,
		"seconds": elapsed, "ops_per_s": float64(len(all)) / elapsed,
		"p50_ms": percentile(all, 0.5), "p99_ms": percentile(all, 0.99), "max_ms": percentile(all, 1),
		"client_cpu_cores": cpu / elapsed,
	}
	steps := map[string][]float64{}
	for _, w := range workers {
		for name, local := range w.steps {
			steps[name] = append(steps[name], local...)
		}
	}
	if len(steps) > 0 {
		summary := map[string]interface{}{}
		for name, all := range steps {
			sort.Float64s(all)
			summary[name] = map[string]interface{}{
				"count": len(all), "p50_ms": percentile(all, 0.5), "p99_ms": percentile(all, 0.99),
			}
		}
		result["steps"] = summary
	}
	if e := firstError.Load(); e != nil {
		result["first_error"] = e
	}
	return emit(result)
}

// ---------------------------------------------------------------- watch: W watchers, K writes

type watcher struct {
	received []int64 // per write: nanoseconds since start when first seen, 0 = not seen
	last     int     // the last write index seen, -1 before any
	count    int     // events seen for this run's keys
	dupes    int     // writes seen again
	outOrder int     // writes seen after a later one
	foreign  int     // events that are not this run's writes
	err      string
	ready    chan struct{}
}

// see records write `seq` arriving at `at` (nanoseconds since the start, never 0).
func (w *watcher) see(seq int, at int64) {
	if seq < 0 || seq >= len(w.received) {
		w.foreign++
		return
	}
	w.count++
	if atomic.LoadInt64(&w.received[seq]) != 0 {
		w.dupes++
		return
	}
	// Published atomically: the writer polls the last write's slot to know when every watcher has it.
	atomic.StoreInt64(&w.received[seq], at)
	if seq < w.last {
		w.outOrder++ // a later write was seen before this one
	} else {
		w.last = seq
	}
}

func watchCommand(arguments []string) error {
	flags := flag.NewFlagSet("watch", flag.ExitOnError)
	system := flags.String("system", "cohort", "cohort or etcd")
	urls := flags.String("url", "", "comma-separated http://host:port of the nodes the watchers are spread over")
	writeURL := flags.String("write-url", "", "http://host:port the writes go to (the leader)")
	store := flags.String("store", "default", "cohort: the store")
	prefix := flags.String("prefix", "watch/", "the watched prefix (use a fresh one per run)")
	watchers := flags.Int("watchers", 1000, "watch streams")
	writes := flags.Int("writes", 10000, "sequential writes under the prefix")
	valueSize := flags.Int("value-size", 64, "bytes per value")
	connectTimeout := flags.Duration("connect-timeout", 60*time.Second, "for every watcher to be established")
	drainTimeout := flags.Duration("drain-timeout", 60*time.Second, "after the last write, for every watcher to see it")
	flags.Parse(arguments)
	if *urls == "" || *writeURL == "" {
		return errors.New("give --url and --write-url")
	}
	bases := strings.Split(*urls, ",")
	// Cohort: watch from the store's current revision. A node keeps the last 100,000 changes, so after
	// the write benchmarks `from=0` is answered 410 COMPACTED (docs/api.md, "Watches").
	from := "0"
	if *system == "cohort" {
		revision, err := cohortRevision(strings.TrimRight(*writeURL, "/"), *store)
		if err != nil {
			return err
		}
		from = revision
	}
	streamClient := &http.Client{Transport: newTransport(*watchers)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	list := make([]*watcher, *watchers)
	var wg sync.WaitGroup
	for k := range list {
		w := &watcher{received: make([]int64, *writes), last: -1, ready: make(chan struct{})}
		list[k] = w
		wg.Add(1)
		go func(w *watcher, base string) {
			defer wg.Done()
			if err := stream(ctx, streamClient, *system, base, *store, *prefix, from, w, start); err != nil && ctx.Err() == nil {
				w.err = err.Error()
			}
		}(w, strings.TrimRight(bases[k%len(bases)], "/"))
	}
	connectDeadline := time.NewTimer(*connectTimeout)
	defer connectDeadline.Stop()
	connected := 0
	timedOut := false
	for _, w := range list {
		if timedOut {
			break
		}
		select {
		case <-w.ready:
			connected++
		case <-connectDeadline.C:
			// The timer fires once: stop waiting for the rest too.
			timedOut = true
		}
	}
	if connected < len(list) {
		cancel()
		wg.Wait()
		first := ""
		for _, w := range list {
			if w.err != "" {
				first = w.err
				break
			}
		}
		return fmt.Errorf("only %d of %d watchers connected within %s (first error: %s)", connected, len(list), *connectTimeout, first)
	}

	// The writes: one caller, sequential, each to a new key whose name carries its index.
	writer := &client{http: &http.Client{Transport: newTransport(1)}, base: strings.TrimRight(*writeURL, "/"), timeout: 10 * time.Second}
	value := strings.Repeat("x", *valueSize)
	replied := make([]int64, *writes)
	writeErrors := 0
	firstWriteError := ""
	writeStart := time.Now()
	for seq := 0; seq < *writes; seq++ {
		key := fmt.Sprintf("%s%08d", *prefix, seq)
		var err error
		if *system == "cohort" {
			body, _ := json.Marshal(map[string]string{"value": value})
			_, err = writer.do("PUT", "/v1/kv/"+key+"?store="+url.QueryEscape(*store), body, 200)
		} else {
			body, _ := json.Marshal(map[string]string{"key": b64(key), "value": b64(value)})
			_, err = writer.do("POST", "/v3/kv/put", body, 200)
		}
		replied[seq] = int64(time.Since(start))
		if err != nil {
			writeErrors++
			if firstWriteError == "" {
				firstWriteError = err.Error()
			}
		}
	}
	writeSeconds := time.Since(writeStart).Seconds()

	// Wait (bounded) until every watcher saw the last write, then close the streams.
	drainDeadline := time.Now().Add(*drainTimeout)
	for time.Now().Before(drainDeadline) {
		done := true
		for _, w := range list {
			if atomic.LoadInt64(&w.received[*writes-1]) == 0 && w.err == "" {
				done = false
				break
			}
		}
		if done {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // late duplicates, if any
	cancel()
	wg.Wait()

	var latencies []float64
	negative, missing, dupes, outOrder, foreign, failed, complete := 0, 0, 0, 0, 0, 0, 0
	firstError := ""
	for _, w := range list {
		seen := 0
		for seq, at := range w.received {
			if at == 0 {
				continue
			}
			seen++
			d := float64(at-replied[seq]) / 1e6
			if d < 0 {
				negative++
			}
			latencies = append(latencies, d)
		}
		// Writes never seen at all, and gaps, count as missing.
		missing += *writes - seen
		dupes += w.dupes
		outOrder += w.outOrder
		foreign += w.foreign
		if w.err != "" {
			failed++
			if firstError == "" {
				firstError = w.err
			}
		}
		if seen == *writes && w.dupes == 0 && w.outOrder == 0 {
			complete++
		}
	}
	sort.Float64s(latencies)
	result := map[string]interface{}{
		"system": *system, "watchers": *watchers, "writes": *writes, "write_errors": writeErrors,
		"writes_per_s": float64(*writes) / writeSeconds, "deliveries": len(latencies),
		"expected_deliveries": *watchers * *writes,
		"p50_ms":              percentile(latencies, 0.5), "p99_ms": percentile(latencies, 0.99), "max_ms": percentile(latencies, 1),
		"before_reply": negative, "missing": missing, "duplicates": dupes, "out_of_order": outOrder,
		"foreign": foreign, "watchers_failed": failed, "watchers_complete": complete,
	}
	if firstError != "" {
		result["first_watcher_error"] = firstError
	}
	if firstWriteError != "" {
		result["first_write_error"] = firstWriteError
	}
	return emit(result)
}

// stream opens one watch and records every event until ctx ends.
func stream(ctx context.Context, c *http.Client, system, base, store, prefix, from string, w *watcher, start time.Time) error {
	var request *http.Request
	var err error
	if system == "cohort" {
		request, err = http.NewRequestWithContext(ctx, "GET",
			base+"/v1/watch?store="+url.QueryEscape(store)+"&prefix="+url.QueryEscape(prefix)+"&from="+from, nil)
	} else {
		body, _ := json.Marshal(map[string]interface{}{"create_request": map[string]string{
			"key": b64(prefix), "range_end": b64(prefixEnd(prefix)),
		}})
		request, err = http.NewRequestWithContext(ctx, "POST", base+"/v3/watch", bytes.NewReader(body))
		if err == nil {
			request.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		return err
	}
	response, err := c.Do(request)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	if response.StatusCode != 200 {
		data, _ := io.ReadAll(io.LimitReader(response.Body, 1000))
		return fmt.Errorf("watch: %d %s", response.StatusCode, truncate(data))
	}
	seqOf := func(key string) int {
		if !strings.HasPrefix(key, prefix) {
			return -1
		}
		n, err := strconv.Atoi(key[len(prefix):])
		if err != nil {
			return -1
		}
		return n
	}
	readyOnce := sync.Once{}
	ready := func() { readyOnce.Do(func() { close(w.ready) }) }
	if system == "cohort" {
		reader := bufio.NewReaderSize(response.Body, 64<<10)
		event := ""
		for {
			line, err := reader.ReadString('\n')
			if err != nil {
				return err
			}
			line = strings.TrimRight(line, "\r\n")
			switch {
			case strings.HasPrefix(line, ":"):
				ready() // ": watching" comes first
			case strings.HasPrefix(line, "event: "):
				event = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				at := int64(time.Since(start))
				if event == "error" {
					return fmt.Errorf("watch ended: %s", line[len("data: "):])
				}
				var data struct{ Key string }
				if err := json.Unmarshal([]byte(line[len("data: "):]), &data); err != nil {
					return err
				}
				if event == "put" {
					w.see(seqOf(data.Key), at)
				} else {
					w.foreign++
				}
			}
		}
	}
	decoder := json.NewDecoder(bufio.NewReaderSize(response.Body, 64<<10))
	for {
		var message struct {
			Result *struct {
				Created  bool `json:"created"`
				Canceled bool `json:"canceled"`
				Events   []struct {
					Type string `json:"type"`
					Kv   struct {
						Key string `json:"key"`
					} `json:"kv"`
				} `json:"events"`
			} `json:"result"`
			Error json.RawMessage `json:"error"`
		}
		if err := decoder.Decode(&message); err != nil {
			return err
		}
		at := int64(time.Since(start))
		if message.Error != nil {
			return fmt.Errorf("watch error: %s", truncate(message.Error))
		}
		if message.Result == nil {
			continue
		}
		if message.Result.Created {
			ready()
		}
		if message.Result.Canceled {
			return errors.New("watch canceled by the server")
		}
		for _, event := range message.Result.Events {
			key, err := base64.StdEncoding.DecodeString(event.Kv.Key)
			if err != nil || event.Type == "DELETE" {
				w.foreign++
				continue
			}
			w.see(seqOf(string(key)), at)
		}
	}
}

// cohortRevision is the store's current revision (the Cohort-Revision header of a one-key listing).
func cohortRevision(base, store string) (string, error) {
	response, err := http.Get(base + "/v1/kv?store=" + url.QueryEscape(store) + "&prefix=&limit=1")
	if err != nil {
		return "", err
	}
	defer response.Body.Close()
	_, _ = io.Copy(io.Discard, response.Body)
	revision := response.Header.Get("Cohort-Revision")
	if response.StatusCode != 200 || revision == "" {
		return "", fmt.Errorf("listing store %s: %d, Cohort-Revision %q", store, response.StatusCode, revision)
	}
	return revision, nil
}
