// Package properties holds hasim's property tests and fuzz targets: rapid
// generators for configurations, fault schedules and workloads, and the
// properties that run a scenario under them and apply its checkers. This
// package's tests also prove hasim's own promise: the same seed, config and
// schedule give a byte-identical trace.
package properties
