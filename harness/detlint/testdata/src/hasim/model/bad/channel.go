package bad

// Channel types in declarations, fields, parameters, results and make.

var events chan int // want `channel type chan int`

var inbox <-chan string // want `channel type <-chan string`

type mailbox struct {
	in  chan<- []byte // want `channel type chan<- \[\]byte`
	out chan chan int // want `channel type chan chan int`
}

type pipe = chan struct{} // want `channel type chan struct{}`

func params(in <-chan int, out chan<- int) (done chan bool) { // want `channel type <-chan int` `channel type chan<- int` `channel type chan bool`
	return nil
}

func makeAndUse() {
	ch := make(chan int, 1) // want `channel type chan int`
	ch <- 1                 // want `channel send`
	v := <-ch               // want `channel receive`
	v, ok := <-ch           // want `channel receive`
	_, _ = v, ok
	<-ch // want `channel receive`

	var m mailbox
	m.in <- nil    // want `channel send`
	x := <-<-m.out // want `channel receive` `channel receive`
	_ = x
}

// Values of channel type declared elsewhere are still caught at each
// operation.
func ops(m mailbox, p pipe) {
	select { // want `select statement picks among ready channel operations at random`
	case m.in <- nil:
	case v := <-m.out:
		_ = <-v // want `channel receive`
	case <-p:
	default:
	}
	select {} // want `select statement`
}

func rangeChan(m mailbox) {
	for range m.out { // want `range over channel`
	}
}
