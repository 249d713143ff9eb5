package realetcd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config describes a local cluster.
type Config struct {
	// Bin is the etcd binary; "" looks "etcd" up on PATH.
	Bin string
	// Dir is where the cluster makes its directory (Cluster.Dir).
	Dir string
	// Size is the number of members (1, 3, 5, …).
	Size int
	// ReadyTimeout bounds the wait for a leader at start; default 30s.
	ReadyTimeout time.Duration
}

// Member is one etcd process of a Cluster.
type Member struct {
	Name      string // m1, m2, …
	ClientURL string
	PeerURL   string
	Client    *Client
	// ID is the member's raft ID (set at start; it never changes).
	ID uint64

	cluster *Cluster
	dataDir string
	logPath string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has exited
	exitErr error
	paused  bool
	// expectExit is set while the member is being killed on purpose, so
	// that its exit is not reported as a crash.
	expectExit bool
	crashes    []string
}

// Cluster is a set of local etcd processes on 127.0.0.1. Every process it
// starts is killed by Close, and (on Linux) by the kernel if this process
// dies first.
type Cluster struct {
	Members []*Member
	// Dir holds the members' data directories and logs (mN.etcd, mN.log).
	Dir string

	cfg   Config
	bin   string
	token string
	http  *http.Client

	mu     sync.Mutex
	closed bool
}

// FindBinary returns the path of the etcd binary bin ("" means etcd on
// PATH), or an error saying how to install it.
func FindBinary(bin string) (string, error) {
	if bin == "" {
		bin = "etcd"
	}
	p, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("etcd binary %q not found (on Debian: apt-get install etcd-server): %w", bin, err)
	}
	return p, nil
}

// StartCluster starts cfg.Size members and waits until every one answers
// and they agree on a leader. On any error the processes it started are
// killed. Ports are drawn at random below the kernel's ephemeral range (so
// that no outgoing connection takes a killed member's port before it
// restarts); a start that loses a port to another process is retried with
// fresh ports.
func StartCluster(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Size < 1 {
		return nil, fmt.Errorf("cluster size %d: want at least 1", cfg.Size)
	}
	if cfg.Dir == "" {
		return nil, errors.New("cluster: no directory for the members' data")
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 30 * time.Second
	}
	bin, err := FindBinary(cfg.Bin)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		c, err := startOnce(ctx, cfg, bin, attempt)
		if err == nil {
			return c, nil
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

var errPortTaken = errors.New("a port was taken by another process")

func startOnce(ctx context.Context, cfg Config, bin string, attempt int) (*Cluster, error) {
	ports, err := freePorts(2 * cfg.Size)
	if err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg, bin: bin, http: &http.Client{Transport: NewTransport(64)},
		token: fmt.Sprintf("hasim-%d-%d-%d", os.Getpid(), time.Now().UnixNano(), attempt)}
	// A directory of its own, so that a directory used before (or an
	// attempt before this one) leaves no data that would be taken for
	// this cluster's.
	dir, err := os.MkdirTemp(cfg.Dir, "cluster-")
	if err != nil {
		return nil, err
	}
	c.Dir = dir
	var initial []string
	for i := 0; i < cfg.Size; i++ {
		m := &Member{
			Name:      "m" + strconv.Itoa(i+1),
			ClientURL: "http://127.0.0.1:" + strconv.Itoa(ports[2*i]),
			PeerURL:   "http://127.0.0.1:" + strconv.Itoa(ports[2*i+1]),
			cluster:   c,
		}
		m.dataDir = filepath.Join(dir, m.Name+".etcd")
		m.logPath = filepath.Join(dir, m.Name+".log")
		m.Client = &Client{Endpoint: m.ClientURL, HTTP: c.http}
		c.Members = append(c.Members, m)
		initial = append(initial, m.Name+"="+m.PeerURL)
	}
	for _, m := range c.Members {
		if err := m.start(strings.Join(initial, ",")); err != nil {
			c.Close()
			return nil, err
		}
	}
	rctx, cancel := context.WithTimeout(ctx, cfg.ReadyTimeout)
	defer cancel()
	if err := c.waitReady(rctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// freePorts draws n distinct ports in [20000, 32000) that are free on
// 127.0.0.1 now.
func freePorts(n int) ([]int, error) {
	seen := map[int]bool{}
	var out []int
	for tries := 0; len(out) < n; tries++ {
		if tries > 1000 {
			return nil, errors.New("no free ports on 127.0.0.1 in [20000, 32000)")
		}
		p := 20000 + rand.IntN(12000)
		if seen[p] {
			continue
		}
		seen[p] = true
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		out = append(out, p)
	}
	return out, nil
}

// args are the member's command line; the initial-cluster flags only
// matter on the first start (a restart finds its data directory).
func (m *Member) args(initial string) []string {
	return []string{
		"--name", m.Name,
		"--data-dir", m.dataDir,
		"--listen-client-urls", m.ClientURL,
		"--advertise-client-urls", m.ClientURL,
		"--listen-peer-urls", m.PeerURL,
		"--initial-advertise-peer-urls", m.PeerURL,
		"--initial-cluster", initial,
		"--initial-cluster-state", "new",
		"--initial-cluster-token", m.cluster.token,
		"--logger", "zap",
		"--log-outputs", "stderr",
	}
}

func (m *Member) initialCluster() string {
	var parts []string
	for _, o := range m.cluster.Members {
		parts = append(parts, o.Name+"="+o.PeerURL)
	}
	return strings.Join(parts, ",")
}

// memberEnv is the environment without ETCD_* variables, which etcd would
// take as flags.
func memberEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ETCD_") {
			env = append(env, kv)
		}
	}
	if runtime.GOARCH != "amd64" {
		// etcd 3.4 refuses to start on other architectures unless told.
		env = append(env, "ETCD_UNSUPPORTED_ARCH="+runtime.GOARCH)
	}
	return env
}

func (m *Member) start(initial string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cluster.isClosed() {
		return errors.New(m.Name + ": cluster closed")
	}
	if m.cmd != nil {
		return fmt.Errorf("%s: already running", m.Name)
	}
	logf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(m.cluster.bin, m.args(initial)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = memberEnv()
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("%s: %w", m.Name, err)
	}
	logf.Close() // the child holds its own descriptor
	m.cmd, m.exited, m.exitErr, m.paused, m.expectExit = cmd, make(chan struct{}), nil, false, false
	exited := m.exited
	go func() {
		err := cmd.Wait()
		m.mu.Lock()
		m.exitErr = err
		if !m.expectExit && !m.cluster.isClosed() {
			m.crashes = append(m.crashes, fmt.Sprintf("%s exited on its own: %v (log: %s)", m.Name, err, m.logPath))
		}
		close(exited)
		m.mu.Unlock()
	}()
	return nil
}

// waitReady waits until every member answers a status call and all name
// the same leader.
func (c *Cluster) waitReady(ctx context.Context) error {
	for {
		leaders := map[uint64]bool{}
		answered := 0
		var lastErr error
		for _, m := range c.Members {
			if m.hasExited() {
				if m.logMentions("address already in use") {
					return fmt.Errorf("%s: %w", m.Name, errPortTaken)
				}
				return fmt.Errorf("%s exited at start (log: %s)", m.Name, m.logPath)
			}
			sctx, cancel := context.WithTimeout(ctx, time.Second)
			st, err := m.Client.Status(sctx)
			cancel()
			if err != nil {
				lastErr = fmt.Errorf("%s: %w", m.Name, err)
				continue
			}
			m.ID = st.Header.MemberID
			answered++
			leaders[st.Leader] = true
		}
		if answered == len(c.Members) && len(leaders) == 1 && !leaders[0] {
			return nil
		}
		select {
		case <-ctx.Done():
			if lastErr == nil {
				lastErr = errors.New("no agreed leader")
			}
			return fmt.Errorf("cluster not ready within %s: %w (logs in %s)", c.cfg.ReadyTimeout, lastErr, c.Dir)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (m *Member) hasExited() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.exited == nil {
		return false
	}
	select {
	case <-m.exited:
		return true
	default:
		return false
	}
}

func (m *Member) logMentions(s string) bool {
	b, err := os.ReadFile(m.logPath)
	return err == nil && strings.Contains(string(b), s)
}

func (c *Cluster) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Running reports whether the member's process is up (paused or not).
func (m *Member) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return false
	}
	select {
	case <-m.exited:
		return false
	default:
		return true
	}
}

// Paused reports whether the member is stopped by SIGSTOP.
func (m *Member) Paused() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.paused
}

// Kill crashes the member with SIGKILL and waits for it to exit.
func (m *Member) Kill() error {
	m.mu.Lock()
	cmd, exited := m.cmd, m.exited
	if cmd == nil {
		m.mu.Unlock()
		return fmt.Errorf("%s: not running", m.Name)
	}
	m.expectExit = true
	err := cmd.Process.Kill()
	m.mu.Unlock()
	<-exited
	m.mu.Lock()
	m.cmd, m.paused = nil, false
	m.mu.Unlock()
	if err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("%s: kill: %w", m.Name, err)
	}
	return nil
}

// Restart starts a member that was killed (or exited) again, on its data
// directory and ports.
func (m *Member) Restart() error {
	m.mu.Lock()
	if m.cmd != nil {
		select {
		case <-m.exited:
			m.cmd = nil
		default:
			m.mu.Unlock()
			return fmt.Errorf("%s: restart: still running", m.Name)
		}
	}
	m.mu.Unlock()
	return m.start(m.initialCluster())
}

// Pause stops the member with SIGSTOP: it keeps its connections and
// sockets, and the kernel queues what arrives for it, but it does nothing
// until Resume.
func (m *Member) Pause() error { return m.signal(true) }

// Resume continues a paused member with SIGCONT.
func (m *Member) Resume() error { return m.signal(false) }

func (m *Member) signal(pause bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return fmt.Errorf("%s: not running", m.Name)
	}
	if err := signalPause(m.cmd.Process, pause); err != nil {
		return fmt.Errorf("%s: %w", m.Name, err)
	}
	m.paused = pause
	return nil
}

// Crashes lists the exits of members that nobody asked for.
func (c *Cluster) Crashes() []string {
	var out []string
	for _, m := range c.Members {
		m.mu.Lock()
		out = append(out, m.crashes...)
		m.mu.Unlock()
	}
	return out
}

// Leader asks the running, unpaused members who leads, and returns the
// leader's index in Members when those that answer within timeout agree and
// the leader is one of them; -1 otherwise.
func (c *Cluster) Leader(ctx context.Context, timeout time.Duration) int {
	var leader uint64
	for _, m := range c.Members {
		if !m.Running() || m.Paused() {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, timeout)
		st, err := m.Client.Status(sctx)
		cancel()
		if err != nil {
			continue
		}
		switch {
		case st.Leader == 0:
			return -1
		case leader == 0:
			leader = st.Leader
		case leader != st.Leader:
			return -1
		}
	}
	for i, m := range c.Members {
		if leader != 0 && m.ID == leader && m.Running() && !m.Paused() {
			return i
		}
	}
	return -1
}

// Close kills every member (paused ones included) and waits for them.
// It is safe to call more than once.
func (c *Cluster) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	for _, m := range c.Members {
		m.mu.Lock()
		cmd, exited := m.cmd, m.exited
		m.expectExit = true
		if cmd != nil {
			// SIGKILL ends a stopped process too.
			_ = cmd.Process.Kill()
		}
		m.mu.Unlock()
		if cmd != nil {
			<-exited
		}
		m.mu.Lock()
		m.cmd, m.paused = nil, false
		m.mu.Unlock()
	}
	c.http.CloseIdleConnections()
}
