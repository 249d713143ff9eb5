package kube

import (
	"testing"
	"time"
)

// Restarted clients leave nothing behind: after kubelets are killed and
// restarted, the API servers hold no more watchers and connections, and
// the LB no more connections, than in a quiet run.
func TestRestartedClientsLeaveNoConnections(t *testing.T) {
	count := func(sched string) (watchers, conns, lb int) {
		sc, res := runCluster(t, Config{}, 1, sched, 5*time.Minute)
		for _, p := range sc.apiservers {
			a := res.Sim.Instance(p).(*APIServer)
			watchers += len(a.watchers)
			conns += len(a.conns)
		}
		lb = res.Sim.Instance(sc.lb).(*LB).Conns()
		return
	}
	w0, c0, l0 := count("")
	w1, c1, l1 := count("at 60s kill w1/kubelet for 1s\nat 90s kill w1/kubelet for 1s\nat 120s kill w1/kubelet for 1s\nat 150s kill w2/kubelet for 1s\nat 180s kill m1/cm for 1s")
	// The killed controller-manager's idle connection to its API server
	// may stay: the kernel sends no FIN when a process dies, and the
	// server only learns of it when it next writes there. One per restart
	// of an idle client, not one per event.
	if w1 > w0 || c1 > c0+1 || l1 > l0 {
		t.Fatalf("after restarts: %d watchers, %d API connections, %d LB connections; quiet run: %d, %d, %d", w1, c1, l1, w0, c0, l0)
	}
}
