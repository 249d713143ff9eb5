// Package judge composes the model's scenarios with the checkers that
// judge them. A model scenario wires a run and reports facts through its
// observer interfaces (who acts when, what raft applied); it imports no
// checker. A judged scenario here sets itself as that observer, feeds the
// facts to the checkers, and gives the run's verdicts: the checkers watch
// the system from outside, as a test's oracle should.
package judge
