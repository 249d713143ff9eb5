package bad

func goroutines(work func()) {
	go func() {}() // want `go statement starts a goroutine`
	go work()      // want `go statement starts a goroutine`
	go func() {    // want `go statement starts a goroutine`
		work()
	}()
}
