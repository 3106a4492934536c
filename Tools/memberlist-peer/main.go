// Command memberlist-peer runs one long-lived HashiCorp memberlist 0.2.2 node (Debian's
// golang-github-hashicorp-memberlist-dev) for Cohort's interop tests and benchmarks.
//
// It prints one JSON line per membership event on stdout, sends memberlist's log to stderr with a
// "[name] " prefix, and optionally serves a small HTTP status API (/members, /health, /messages,
// POST /leave, POST /broadcast). See README.md.
package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/hashicorp/memberlist"
)

// ---------------------------------------------------------------------------------------------
// Reading memberlist's own node table.
//
// memberlist 0.2.2 has no public API that reports suspect/dead/left or incarnation numbers:
// Members() returns alive+suspect nodes only, and the State field of the *Node it returns (and of
// the *Node passed to EventDelegate callbacks) is never written, because nodeState declares its own
// State field that shadows the embedded Node.State (state.go). So this program reads the private
// Memberlist.nodeMap (map[string]*nodeState) with reflect, under Memberlist.nodeLock, exactly as
// memberlist's own Members() does. The layout is checked once at start-up (checkIntrospection);
// if it does not match (a different memberlist version), the program falls back to a view built
// from EventDelegate callbacks and says so in /members ("source":"events") and on stderr.
// ---------------------------------------------------------------------------------------------

type nodeRow struct {
	Name        string  `json:"name"`
	Address     string  `json:"address"`
	Port        uint16  `json:"port"`
	State       string  `json:"state"`
	Incarnation *uint32 `json:"incarnation"` // null when memberlist's table cannot be read
	MetaHex     string  `json:"meta_hex"`
	StateChange string  `json:"state_change,omitempty"` // when this node last changed state, in our view
	Vsn         []int   `json:"vsn,omitempty"`          // [pmin pmax pcur dmin dmax dcur]
}

func stateName(s int64) string {
	switch memberlist.NodeStateType(s) {
	case memberlist.StateAlive:
		return "alive"
	case memberlist.StateSuspect:
		return "suspect"
	case memberlist.StateDead:
		return "dead"
	case memberlist.StateLeft:
		return "left"
	}
	return "unknown(" + strconv.FormatInt(s, 10) + ")"
}

var (
	rwMutexType   = reflect.TypeOf(sync.RWMutex{})
	nodeType      = reflect.TypeOf(memberlist.Node{})
	stateTypeType = reflect.TypeOf(memberlist.NodeStateType(0))
	timeType      = reflect.TypeOf(time.Time{})
)

// checkIntrospection verifies that *memberlist.Memberlist still has the 0.2.2 layout this program
// relies on: nodeLock sync.RWMutex; nodeMap map[string]*nodeState; nodeState{Node (embedded),
// Incarnation uint32, State NodeStateType, StateChange time.Time}.
func checkIntrospection() error {
	mt := reflect.TypeOf(memberlist.Memberlist{})
	lf, ok := mt.FieldByName("nodeLock")
	if !ok || lf.Type != rwMutexType || len(lf.Index) != 1 {
		return errors.New("Memberlist.nodeLock sync.RWMutex not found")
	}
	mf, ok := mt.FieldByName("nodeMap")
	if !ok || len(mf.Index) != 1 || mf.Type.Kind() != reflect.Map || mf.Type.Key().Kind() != reflect.String ||
		mf.Type.Elem().Kind() != reflect.Ptr || mf.Type.Elem().Elem().Kind() != reflect.Struct {
		return errors.New("Memberlist.nodeMap map[string]*nodeState not found")
	}
	st := mf.Type.Elem().Elem()
	want := map[string]reflect.Type{"Node": nodeType, "Incarnation": reflect.TypeOf(uint32(0)),
		"State": stateTypeType, "StateChange": timeType}
	for name, typ := range want {
		f, ok := st.FieldByName(name)
		if !ok || f.Type != typ || len(f.Index) != 1 {
			return fmt.Errorf("nodeState.%s %v not found", name, typ)
		}
	}
	if f, _ := st.FieldByName("Node"); !f.Anonymous || f.Offset != 0 {
		return errors.New("nodeState does not embed Node at offset 0")
	}
	return nil
}

// table gives access to a running memberlist's private node table.
type table struct {
	lock    *sync.RWMutex
	nodeMap reflect.Value
}

func newTable(m *memberlist.Memberlist) *table {
	v := reflect.ValueOf(m).Elem()
	lf := v.FieldByName("nodeLock")
	return &table{
		lock:    (*sync.RWMutex)(unsafe.Pointer(lf.UnsafeAddr())),
		nodeMap: v.FieldByName("nodeMap"),
	}
}

func rowFromState(ns reflect.Value) nodeRow {
	// ns is an addressable nodeState struct.
	node := (*memberlist.Node)(unsafe.Pointer(ns.FieldByName("Node").UnsafeAddr()))
	inc := uint32(ns.FieldByName("Incarnation").Uint())
	change := *(*time.Time)(unsafe.Pointer(ns.FieldByName("StateChange").UnsafeAddr()))
	r := nodeRow{
		Name:        node.Name,
		Address:     node.Addr.String(),
		Port:        node.Port,
		State:       stateName(ns.FieldByName("State").Int()),
		Incarnation: &inc,
		MetaHex:     hex.EncodeToString(node.Meta),
		Vsn:         []int{int(node.PMin), int(node.PMax), int(node.PCur), int(node.DMin), int(node.DMax), int(node.DCur)},
	}
	if !change.IsZero() {
		r.StateChange = change.UTC().Format(time.RFC3339Nano)
	}
	return r
}

// rowsLocked reads every entry; the caller must hold t.lock (or be inside a memberlist callback
// that runs with nodeLock held, which is the case for all EventDelegate callbacks in 0.2.2).
func (t *table) rowsLocked() []nodeRow {
	rows := make([]nodeRow, 0, t.nodeMap.Len())
	it := t.nodeMap.MapRange()
	for it.Next() {
		p := it.Value()
		if p.IsNil() {
			continue
		}
		rows = append(rows, rowFromState(p.Elem()))
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows
}

func (t *table) rows() []nodeRow {
	t.lock.RLock()
	defer t.lock.RUnlock()
	return t.rowsLocked()
}

// lookupLocked returns the row for the node whose embedded Node is n (same pointer), so that a
// delegate callback can learn the real state of the node it was told about. Caller holds the lock.
func (t *table) lookupLocked(n *memberlist.Node) (nodeRow, bool) {
	p := t.nodeMap.MapIndex(reflect.ValueOf(n.Name))
	if !p.IsValid() || p.IsNil() || unsafe.Pointer(p.Pointer()) != unsafe.Pointer(n) {
		return nodeRow{}, false
	}
	return rowFromState(p.Elem()), true
}

// ---------------------------------------------------------------------------------------------
// Output: one JSON object per line on stdout, written with a single write(2) each.
// ---------------------------------------------------------------------------------------------

type eventLine struct {
	TS          string  `json:"ts"`
	Event       string  `json:"event"`
	Node        string  `json:"node"`
	Address     string  `json:"address"`
	State       string  `json:"state"`
	Incarnation *uint32 `json:"incarnation,omitempty"`
	HTTP        string  `json:"http,omitempty"`
	Detail      string  `json:"detail,omitempty"`
}

var stdoutMu sync.Mutex

func emit(e eventLine) {
	e.TS = time.Now().UTC().Format(time.RFC3339Nano)
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	b = append(b, '\n')
	stdoutMu.Lock()
	_, _ = os.Stdout.Write(b) // os.Stdout is unbuffered: the line is flushed immediately
	stdoutMu.Unlock()
}

// ---------------------------------------------------------------------------------------------
// The peer and its delegates.
// ---------------------------------------------------------------------------------------------

type userMsg struct {
	TS   string `json:"ts"`
	Len  int    `json:"len"`
	Text string `json:"text"`
	Hex  string `json:"hex"`
}

const maxKeptMsgs = 1000

type peer struct {
	name   string
	meta   []byte
	logger *log.Logger

	ml  atomic.Value // *memberlist.Memberlist, set once Create returns
	tbl atomic.Value // *table, when introspection works

	userMsgs int64 // atomic
	msgMu    sync.Mutex
	msgs     []userMsg

	// Fallback view from EventDelegate callbacks (used only when introspection is unavailable).
	evMu   sync.Mutex
	evView map[string]nodeRow
}

func (p *peer) list() *memberlist.Memberlist {
	m, _ := p.ml.Load().(*memberlist.Memberlist)
	return m
}

func (p *peer) table() *table {
	t, _ := p.tbl.Load().(*table)
	return t
}

// memberlist.Delegate

func (p *peer) NodeMeta(limit int) []byte {
	if len(p.meta) > limit {
		return p.meta[:limit]
	}
	return p.meta
}

func (p *peer) NotifyMsg(b []byte) {
	atomic.AddInt64(&p.userMsgs, 1)
	m := userMsg{TS: time.Now().UTC().Format(time.RFC3339Nano), Len: len(b), Text: string(b), Hex: hex.EncodeToString(b)}
	p.msgMu.Lock()
	if len(p.msgs) >= maxKeptMsgs {
		p.msgs = append(p.msgs[:0], p.msgs[1:]...)
	}
	p.msgs = append(p.msgs, m)
	p.msgMu.Unlock()
}

func (p *peer) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (p *peer) LocalState(join bool) []byte                { return nil }
func (p *peer) MergeRemoteState(buf []byte, join bool)     {}

// memberlist.EventDelegate. In 0.2.2 these are called from aliveNode/deadNode with nodeLock held,
// so the node table may be read here without locking (taking the lock would deadlock).

type events struct{ p *peer }

func (e events) notify(kind string, n *memberlist.Node, defaultState string) {
	line := eventLine{Event: kind, Node: n.Name, Address: n.Address(), State: defaultState}
	row := nodeRow{Name: n.Name, Address: n.Addr.String(), Port: n.Port, State: defaultState,
		MetaHex: hex.EncodeToString(n.Meta)}
	if t := e.p.table(); t != nil {
		if r, ok := t.lookupLocked(n); ok {
			line.State, line.Incarnation = r.State, r.Incarnation
			row = r
		}
	}
	e.p.evMu.Lock()
	e.p.evView[n.Name] = row
	e.p.evMu.Unlock()
	emit(line)
}

func (e events) NotifyJoin(n *memberlist.Node)   { e.notify("join", n, "alive") }
func (e events) NotifyUpdate(n *memberlist.Node) { e.notify("update", n, "alive") }

// Without introspection dead and left cannot be told apart; both are reported as "left".
func (e events) NotifyLeave(n *memberlist.Node) { e.notify("leave", n, "left") }

// pollSuspects samples the node table and emits the transitions memberlist has no callback for:
// alive -> suspect ("suspect") and suspect -> alive after a refutation ("alive").
func (p *peer) pollSuspects(every time.Duration, stop <-chan struct{}) {
	t := p.table()
	if t == nil || every <= 0 {
		return
	}
	last := map[string]string{}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		seen := map[string]bool{}
		for _, r := range t.rows() {
			seen[r.Name] = true
			prev := last[r.Name]
			last[r.Name] = r.State
			addr := net.JoinHostPort(r.Address, strconv.Itoa(int(r.Port)))
			switch {
			case r.State == "suspect" && prev != "suspect":
				emit(eventLine{Event: "suspect", Node: r.Name, Address: addr, State: r.State, Incarnation: r.Incarnation})
			case r.State == "alive" && prev == "suspect":
				emit(eventLine{Event: "alive", Node: r.Name, Address: addr, State: r.State, Incarnation: r.Incarnation,
					Detail: "suspicion refuted"})
			}
		}
		for name := range last {
			if !seen[name] {
				delete(last, name)
			}
		}
	}
}

func (p *peer) members() (rows []nodeRow, source string) {
	if t := p.table(); t != nil {
		return t.rows(), "memberlist"
	}
	p.evMu.Lock()
	for _, r := range p.evView {
		rows = append(rows, r)
	}
	p.evMu.Unlock()
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows, "events"
}

// ---------------------------------------------------------------------------------------------
// HTTP status API
// ---------------------------------------------------------------------------------------------

func writeJSON(w http.ResponseWriter, code int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

func (p *peer) routes(stop func(reason string) error) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/members", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "GET only"})
			return
		}
		rows, source := p.members()
		w.Header().Set("X-Members-Source", source)
		if rows == nil {
			rows = []nodeRow{}
		}
		writeJSON(w, http.StatusOK, rows)
	})
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		m := p.list()
		if m == nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "not started"})
			return
		}
		_, source := p.members()
		writeJSON(w, http.StatusOK, map[string]interface{}{
			"node":           p.name,
			"health_score":   m.GetHealthScore(),
			"user_msgs":      atomic.LoadInt64(&p.userMsgs),
			"num_members":    m.NumMembers(),
			"members_source": source,
		})
	})
	mux.HandleFunc("/messages", func(w http.ResponseWriter, r *http.Request) {
		p.msgMu.Lock()
		out := append([]userMsg{}, p.msgs...)
		p.msgMu.Unlock()
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("/broadcast", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "POST only"})
			return
		}
		m := p.list()
		if m == nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "not started"})
			return
		}
		var msg []byte
		if v, ok := r.URL.Query()["msg"]; ok {
			msg = []byte(strings.Join(v, ""))
		} else {
			b, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
				return
			}
			msg = b
		}
		type failure struct {
			Node  string `json:"node"`
			Error string `json:"error"`
		}
		sent := []string{}
		failed := []failure{}
		for _, n := range m.Members() { // alive and suspect nodes
			if n.Name == p.name {
				continue
			}
			if err := m.SendReliable(n, msg); err != nil {
				failed = append(failed, failure{n.Name, err.Error()})
			} else {
				sent = append(sent, n.Name)
			}
		}
		code := http.StatusOK
		if len(failed) > 0 {
			code = http.StatusBadGateway
		}
		writeJSON(w, code, map[string]interface{}{"bytes": len(msg), "sent": sent, "failed": failed})
	})
	mux.HandleFunc("/leave", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "POST only"})
			return
		}
		err := stop("http /leave")
		res := map[string]interface{}{"left": true, "leave_error": nil}
		if err != nil {
			res["leave_error"] = err.Error()
		}
		writeJSON(w, http.StatusOK, res)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]interface{}{"node": p.name, "endpoints": []string{
			"GET /members", "GET /health", "GET /messages", "POST /broadcast?msg=...", "POST /leave"}})
	})
	return mux
}

// ---------------------------------------------------------------------------------------------

func fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "memberlist-peer: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	var (
		name      = flag.String("name", "", "node name (default go-<bind>-<port>)")
		bind      = flag.String("bind", "127.0.0.1", "IP address to bind (UDP and TCP) and advertise")
		port      = flag.Int("port", 7946, "port for UDP and TCP (0 = pick a free one)")
		join      = flag.String("join", "", "comma-separated host:port list to join; empty = start as seed")
		joinTO    = flag.Duration("join-timeout", 10*time.Second, "keep retrying -join for this long (0 = one attempt)")
		keyB64    = flag.String("key", "", "base64 AES key (16, 24 or 32 bytes) = encryption on")
		compress  = flag.Bool("compress", true, "memberlist EnableCompression (LZW)")
		cfgName   = flag.String("config", "lan", "base config: lan | local | wan")
		probeInt  = flag.Duration("probe-interval", 0, "override ProbeInterval")
		probeTO   = flag.Duration("probe-timeout", 0, "override ProbeTimeout")
		suspMult  = flag.Int("suspicion-mult", 0, "override SuspicionMult")
		gossipInt = flag.Duration("gossip-interval", 0, "override GossipInterval")
		pushPull  = flag.Duration("pushpull-interval", 0, "override PushPullInterval")
		meta      = flag.String("meta", "", "node metadata (bytes of this string, at most 512)")
		httpAddr  = flag.String("http", "", "ip:port for the HTTP status server (empty = none)")
		pollEvery = flag.Duration("suspect-poll", 50*time.Millisecond, "how often to sample the node table for suspect events (0 = off)")
		leaveTO   = flag.Duration("leave-timeout", 5*time.Second, "timeout for the graceful Leave on SIGTERM/SIGINT or POST /leave")
		leaveProp = flag.Duration("leave-propagate-delay", time.Second, "wait this long after Leave returns before Shutdown (like Serf's LeavePropagateDelay)")
	)
	flag.Parse()
	if flag.NArg() > 0 {
		fatalf("unexpected arguments: %v", flag.Args())
	}

	var cfg *memberlist.Config
	switch *cfgName {
	case "lan":
		cfg = memberlist.DefaultLANConfig()
	case "local":
		cfg = memberlist.DefaultLocalConfig()
	case "wan":
		cfg = memberlist.DefaultWANConfig()
	default:
		fatalf("-config must be lan, local or wan, not %q", *cfgName)
	}
	if net.ParseIP(*bind) == nil {
		fatalf("-bind %q is not an IP address", *bind)
	}
	if *port < 0 || *port > 65535 {
		fatalf("-port %d out of range", *port)
	}
	if *name == "" {
		*name = fmt.Sprintf("go-%s-%d", *bind, *port)
	}
	if len(*meta) > memberlist.MetaMaxSize {
		fatalf("-meta is %d bytes; memberlist allows at most %d", len(*meta), memberlist.MetaMaxSize)
	}

	logger := log.New(os.Stderr, "["+*name+"] ", log.LstdFlags|log.Lmicroseconds)

	cfg.Name = *name
	cfg.BindAddr = *bind
	cfg.BindPort = *port
	cfg.AdvertisePort = *port
	if *bind != "0.0.0.0" && *bind != "::" {
		cfg.AdvertiseAddr = *bind
	}
	cfg.EnableCompression = *compress
	if *keyB64 != "" {
		key, err := base64.StdEncoding.DecodeString(*keyB64)
		if err != nil {
			fatalf("-key is not valid base64: %v", err)
		}
		if l := len(key); l != 16 && l != 24 && l != 32 {
			fatalf("-key must decode to 16, 24 or 32 bytes, got %d", l)
		}
		cfg.SecretKey = key
	}
	if *probeInt > 0 {
		cfg.ProbeInterval = *probeInt
	}
	if *probeTO > 0 {
		cfg.ProbeTimeout = *probeTO
	}
	if *suspMult > 0 {
		cfg.SuspicionMult = *suspMult
	}
	if *gossipInt > 0 {
		cfg.GossipInterval = *gossipInt
	}
	if *pushPull > 0 {
		cfg.PushPullInterval = *pushPull
	}
	cfg.Logger = logger

	p := &peer{name: *name, meta: []byte(*meta), logger: logger, evView: map[string]nodeRow{}}
	cfg.Delegate = p
	cfg.Events = events{p}

	introErr := checkIntrospection()
	if introErr != nil {
		logger.Printf("[WARN] memberlist-peer: cannot read memberlist's node table (%v); /members falls back to "+
			"EventDelegate tracking: no suspect state, dead and left both reported as \"left\", no incarnation", introErr)
	}

	logger.Printf("[INFO] memberlist-peer: config=%s bind=%s:%d compress=%v encrypt=%v probe=%v/%v suspicion-mult=%d gossip=%v pushpull=%v",
		*cfgName, *bind, *port, cfg.EnableCompression, len(cfg.SecretKey) > 0, cfg.ProbeInterval, cfg.ProbeTimeout,
		cfg.SuspicionMult, cfg.GossipInterval, cfg.PushPullInterval)

	m, err := memberlist.Create(cfg)
	if err != nil {
		fatalf("memberlist.Create: %v", err)
	}
	if introErr == nil {
		p.tbl.Store(newTable(m))
	}
	p.ml.Store(m)

	// Graceful stop: Leave (bounded), then Shutdown. Runs once; later callers get the first result.
	var (
		stopOnce sync.Once
		stopErr  error
		stopped  = make(chan string, 1)
	)
	stop := func(reason string) error {
		stopOnce.Do(func() {
			logger.Printf("[INFO] memberlist-peer: leaving (%s)", reason)
			if err := m.Leave(*leaveTO); err != nil {
				stopErr = err
				logger.Printf("[WARN] memberlist-peer: leave: %v", err)
			}
			// memberlist 0.2.2's Leave returns as soon as the leave broadcast has been *handed out* for
			// its last retransmission (TransmitLimitedQueue.GetBroadcasts calls Finished before the
			// packet is written), so an immediate Shutdown races with that write. Serf has
			// LeavePropagateDelay for this (Consul sets it to 3 s). It does not help when the
			// retransmissions went to recently-dead nodes (see README).
			if *leaveProp > 0 && m.NumMembers() > 0 { // NumMembers no longer counts us after Leave
				time.Sleep(*leaveProp)
			}
			if err := m.Shutdown(); err != nil {
				logger.Printf("[WARN] memberlist-peer: shutdown: %v", err)
			}
			stopped <- reason
		})
		return stopErr
	}

	var srv *http.Server
	if *httpAddr != "" {
		ln, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			_ = m.Shutdown()
			fatalf("-http %s: %v", *httpAddr, err)
		}
		srv = &http.Server{Handler: p.routes(stop), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
				logger.Printf("[ERR] memberlist-peer: http: %v", err)
			}
		}()
	}

	if *join != "" {
		var seeds []string
		for _, s := range strings.Split(*join, ",") {
			if s = strings.TrimSpace(s); s != "" {
				seeds = append(seeds, s)
			}
		}
		deadline := time.Now().Add(*joinTO)
		for attempt := 1; ; attempt++ {
			n, err := m.Join(seeds)
			if err == nil {
				logger.Printf("[INFO] memberlist-peer: joined via %d of %d seeds (attempt %d)", n, len(seeds), attempt)
				break
			}
			if !time.Now().Before(deadline) {
				_ = m.Shutdown()
				fatalf("join %v failed after %d attempts: %v", seeds, attempt, err)
			}
			logger.Printf("[WARN] memberlist-peer: join attempt %d failed: %v", attempt, err)
			time.Sleep(250 * time.Millisecond)
		}
	}

	self := m.LocalNode()
	emit(eventLine{Event: "ready", Node: self.Name, Address: self.Address(), State: "alive", HTTP: *httpAddr})

	pollStop := make(chan struct{})
	go p.pollSuspects(*pollEvery, pollStop)

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sigs
		_ = stop("signal " + s.String())
	}()

	reason := <-stopped
	close(pollStop)
	if srv != nil {
		// Lets an in-flight POST /leave response finish, bounded.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
	}
	emit(eventLine{Event: "exit", Node: self.Name, Address: self.Address(), State: "left", Detail: reason})
	os.Exit(0)
}
