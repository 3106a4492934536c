package main

import (
	"bytes"
	"compress/lzw"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io/ioutil"
	"log"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// recordingTransport wraps memberlist's real NetTransport and records every datagram sent and every byte
// written to a stream, so the fixtures hold what memberlist 0.2.2 itself puts on the wire.
type recordingTransport struct {
	*memberlist.NetTransport
	rec     *recorder
	streams chan net.Conn
}

type recorder struct {
	mu      sync.Mutex
	packets [][]byte
	streams [][]byte
}

func (r *recorder) packet(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.packets = append(r.packets, append([]byte{}, b...))
}

func (r *recorder) stream(b []byte) {
	if len(b) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.streams = append(r.streams, append([]byte{}, b...))
}

type recordingConn struct {
	net.Conn
	rec  *recorder
	mu   sync.Mutex
	sent bytes.Buffer
	once sync.Once
}

func (c *recordingConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.sent.Write(b)
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *recordingConn) Close() error {
	c.once.Do(func() {
		c.mu.Lock()
		c.rec.stream(c.sent.Bytes())
		c.mu.Unlock()
	})
	return c.Conn.Close()
}

func newRecordingTransport(rec *recorder) *recordingTransport {
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{"127.0.0.1"},
		BindPort:  0,
		Logger:    log.New(ioutil.Discard, "", 0),
	})
	if err != nil {
		panic(err)
	}
	t := &recordingTransport{NetTransport: nt, rec: rec, streams: make(chan net.Conn)}
	go func() {
		for conn := range nt.StreamCh() {
			t.streams <- &recordingConn{Conn: conn, rec: rec}
		}
	}()
	return t
}

func (t *recordingTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	t.rec.packet(b)
	return t.NetTransport.WriteTo(b, addr)
}

func (t *recordingTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return t.WriteTo(b, a.Addr)
}

func (t *recordingTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	conn, err := t.NetTransport.DialTimeout(addr, timeout)
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: conn, rec: t.rec}, nil
}

func (t *recordingTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return t.DialTimeout(a.Addr, timeout)
}

func (t *recordingTransport) StreamCh() <-chan net.Conn { return t.streams }

// delegate supplies metadata, delegate state and a few user broadcasts.
type delegate struct {
	name       string
	mu         sync.Mutex
	broadcasts int
}

func (d *delegate) NodeMeta(limit int) []byte           { return []byte("meta:" + d.name) }
func (d *delegate) NotifyMsg([]byte)                    {}
func (d *delegate) LocalState(join bool) []byte         { return []byte("state:" + d.name) }
func (d *delegate) MergeRemoteState(buf []byte, j bool) {}
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.broadcasts >= 3 {
		return nil
	}
	d.broadcasts++
	return [][]byte{append([]byte{byte(userMsg)}, fmt.Sprintf("bcast-%s-%d", d.name, d.broadcasts)...)}
}

// capturedTraffic is one run of three real memberlist nodes on loopback.
type capturedTraffic struct {
	name    string
	key     []byte
	packets [][2]string // hex, signature
	streams [][2]string
}

// captureRun starts three nodes, joins them, sends user messages, kills one abruptly (probes, indirect
// probes, nacks, suspicion, death) and lets another leave gracefully.
func captureRun(name string, key []byte, compression bool) *capturedTraffic {
	rec := &recorder{}
	mk := func(n string) *memberlist.Memberlist {
		t := newRecordingTransport(rec)
		c := memberlist.DefaultLocalConfig()
		c.Name = n
		c.Transport = t
		c.BindAddr = "127.0.0.1"
		c.BindPort = t.GetAutoBindPort()
		c.AdvertiseAddr = "127.0.0.1"
		c.AdvertisePort = c.BindPort
		c.ProbeInterval = 100 * time.Millisecond
		c.ProbeTimeout = 50 * time.Millisecond
		c.GossipInterval = 30 * time.Millisecond
		c.PushPullInterval = 400 * time.Millisecond
		c.EnableCompression = compression
		c.SecretKey = key
		c.Delegate = &delegate{name: n}
		c.LogOutput = ioutil.Discard
		m, err := memberlist.Create(c)
		if err != nil {
			panic(err)
		}
		return m
	}
	a, b, c := mk("go-a"), mk("go-b"), mk("go-c")
	for _, m := range []*memberlist.Memberlist{b, c} {
		if _, err := m.Join([]string{a.LocalNode().Address()}); err != nil {
			panic(err)
		}
	}
	time.Sleep(1500 * time.Millisecond)
	if err := a.SendReliable(b.LocalNode(), []byte("reliable user message")); err != nil {
		panic(err)
	}
	if err := a.SendBestEffort(b.LocalNode(), []byte("best effort user message")); err != nil {
		panic(err)
	}
	c.Shutdown() // no leave: a and b must detect it
	time.Sleep(2500 * time.Millisecond)
	b.Leave(time.Second)
	time.Sleep(300 * time.Millisecond)
	b.Shutdown()
	a.Shutdown()

	out := &capturedTraffic{name: name, key: key}
	out.packets = selectBySignature(rec.packets, func(p []byte) string { return classifyPacket(p, key) })
	out.streams = selectBySignature(rec.streams, func(s []byte) string { return classifyStream(s, key) })
	return out
}

// selectBySignature keeps at most two samples of each distinct structure, in a stable order.
func selectBySignature(items [][]byte, classify func([]byte) string) [][2]string {
	seen := map[string]int{}
	var out [][2]string
	for _, it := range items {
		sig := classify(it)
		if seen[sig] >= 2 {
			continue
		}
		seen[sig]++
		out = append(out, [2]string{fmt.Sprintf("%x", it), sig})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i][1] < out[j][1] })
	return out
}

func decrypt(key, payload, aad []byte) []byte {
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	plain, err := gcm.Open(nil, payload[1:13], payload[13:], aad)
	if err != nil {
		panic(err)
	}
	return plain
}

func lzwDecompress(b []byte) []byte {
	var out bytes.Buffer
	r := lzw.NewReader(bytes.NewReader(b), lzw.LSB, 8)
	if _, err := out.ReadFrom(r); err != nil {
		panic(err)
	}
	return out.Bytes()
}

// leafTypes lists the message types inside a typed message, unwrapping compound and compress.
func leafTypes(msg []byte) []string {
	switch messageType(msg[0]) {
	case compoundMsg:
		n := int(msg[1])
		body := msg[2+2*n:]
		var out []string
		for i := 0; i < n; i++ {
			l := int(binary.BigEndian.Uint16(msg[2+2*i:]))
			out = append(out, leafTypes(body[:l])...)
			body = body[l:]
		}
		return out
	case compressMsg:
		var c compress
		if err := decodeInto(msg[1:], &c); err != nil {
			panic(err)
		}
		return leafTypes(lzwDecompress(c.Buf))
	default:
		return []string{fmt.Sprint(msg[0])}
	}
}

// classifyPacket describes a datagram as its wrappers and leaf types, e.g. "crc compress 0,4,8".
func classifyPacket(p []byte, key []byte) string {
	var wrappers []string
	if key != nil {
		p = decrypt(key, p, nil)
		wrappers = append(wrappers, "encrypt")
	}
	if p[0] == byte(hasCrcMsg) {
		if crc32.ChecksumIEEE(p[5:]) != binary.BigEndian.Uint32(p[1:5]) {
			panic("bad crc from Go")
		}
		wrappers = append(wrappers, "crc")
		p = p[5:]
	}
	switch messageType(p[0]) {
	case compressMsg:
		wrappers = append(wrappers, "compress")
	case compoundMsg:
		wrappers = append(wrappers, "compound")
	}
	return strings.Join(append(wrappers, strings.Join(leafTypes(p), ",")), " ")
}

// classifyStream describes a stream as its wrappers and message type, e.g. "encrypt compress 6".
func classifyStream(s []byte, key []byte) string {
	var wrappers []string
	if s[0] == byte(encryptMsg) {
		s = decrypt(key, s[5:], s[:5])
		wrappers = append(wrappers, "encrypt")
	}
	if s[0] == byte(compressMsg) {
		var c compress
		if err := decodeInto(s[1:], &c); err != nil {
			panic(err)
		}
		s = lzwDecompress(c.Buf)
		wrappers = append(wrappers, "compress")
	}
	return strings.Join(append(wrappers, fmt.Sprint(s[0])), " ")
}

func (c *capturedTraffic) emit(f *swiftFile) {
	f.line("    /// Traffic recorded from three real memberlist 0.2.2 nodes (%s): packets and stream halves, each", c.name)
	f.line("    /// with Go's description of its wrappers and leaf message types.")
	f.line("    static let %s = CapturedTraffic(", c.name)
	f.line("        key: %q,", fmt.Sprintf("%x", c.key))
	f.line("        packets: [")
	for _, p := range c.packets {
		f.line("            CapturedFrame(shape: %q, bytes: %s),", p[1], hexLiteralString(p[0], "                "))
	}
	f.line("        ],")
	f.line("        streams: [")
	for _, s := range c.streams {
		f.line("            CapturedFrame(shape: %q, bytes: %s),", s[1], hexLiteralString(s[0], "                "))
	}
	f.line("        ]")
	f.line("    )")
}

func hexLiteralString(h string, indent string) string {
	b, err := hex.DecodeString(h)
	if err != nil {
		panic(err)
	}
	return hexLiteral(b, indent)
}
