package kube_test

import (
	"hasim/checkers/judge"
	"hasim/harness"
	"hasim/model/kube"
)

func init() {
	kube.Judged = func(cfg kube.Config) (harness.Scenario, *kube.Scenario) {
		j := judge.NewCluster(cfg)
		return j, &j.Scenario
	}
}
