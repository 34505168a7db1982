package drill

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func mdur(s string) model.Duration {
	d, err := model.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return d
}

// paced runs the pacer as vegeta's attack loop does, on a virtual clock
// whose sleeps overshoot as real ones do, and returns when each request
// was sent.
func paced(t *testing.T, p Pacer) []time.Duration {
	t.Helper()
	const overshoot = 300 * time.Microsecond
	var sent []time.Duration
	elapsed := time.Duration(0)
	for {
		if elapsed > p.Curve.Length() {
			break
		}
		wait, stop := p.Pace(elapsed, uint64(len(sent)))
		if stop {
			break
		}
		if wait > 0 {
			elapsed += wait + overshoot
		}
		sent = append(sent, elapsed)
		if len(sent) > 1e7 {
			t.Fatal("runaway pacer")
		}
	}
	return sent
}

func perSecond(sent []time.Duration, length time.Duration) []int {
	out := make([]int, int(length/time.Second)+1)
	for _, at := range sent {
		out[int(at/time.Second)]++
	}
	return out
}

// Every pattern's rate sent over time, second by second, is within 5 % of
// the planned curve's requests in that second.
func TestPatternsSendTheirCurve(t *testing.T) {
	for _, tc := range []struct {
		name  string
		drill Drill
		// rate at the middle of some seconds, to check the curve itself
		at   map[time.Duration]float64
		want float64 // total requests planned
	}{
		{"constant", Drill{Pattern: Constant, Rate: 100, Duration: mdur("30s")},
			map[time.Duration]float64{0: 100, 15 * time.Second: 100}, 3000},
		{"ramp with ramp-up", Drill{Pattern: Ramp, Rate: 50, To: 250, RampUp: mdur("10s"), Duration: mdur("20s")},
			map[time.Duration]float64{5 * time.Second: 25, 10 * time.Second: 50, 20 * time.Second: 150, 30 * time.Second: 250}, 250 + 3000},
		{"step", Drill{Pattern: Step, Rate: 40, To: 200, At: mdur("10s"), Duration: mdur("20s")},
			map[time.Duration]float64{9 * time.Second: 40, 10 * time.Second: 200, 19 * time.Second: 200}, 400 + 2000},
		{"spike", Drill{Pattern: Spike, Rate: 60, To: 300, At: mdur("10s"), Hold: mdur("5s"), Duration: mdur("25s")},
			map[time.Duration]float64{9 * time.Second: 60, 12 * time.Second: 300, 15 * time.Second: 60}, 60*20 + 300*5},
		{"users with think time", Drill{Pattern: Constant, Users: 300, ThinkTime: mdur("3s"), Duration: mdur("10s")},
			map[time.Duration]float64{5 * time.Second: 100}, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.drill
			d.Name = "x"
			if errs := d.check("drills[0]", 1000); len(errs) > 0 {
				t.Fatal(errs)
			}
			c := CurveOf(d)
			for at, want := range tc.at {
				if got := c.Rate(at); math.Abs(got-want) > 1e-9 {
					t.Errorf("rate at %s: %v, want %v", at, got, want)
				}
			}
			if got := c.Hits(c.Length()); math.Abs(got-tc.want) > 1e-6 {
				t.Errorf("planned %v requests, want %v", got, tc.want)
			}
			sends := paced(t, Pacer{Curve: c})
			if math.Abs(float64(len(sends))-math.Floor(tc.want+1e-9)) > 1 {
				t.Errorf("sent %d requests, planned %v", len(sends), tc.want)
			}
			total := 0
			for s, n := range perSecond(sends, c.Length()) {
				total += n
				planned := c.Hits(time.Duration(s+1)*time.Second) - c.Hits(time.Duration(s)*time.Second)
				if planned >= 20 && math.Abs(float64(n)-planned) > 0.05*planned {
					t.Errorf("second %d: sent %d, planned %.1f (more than 5 %% off)", s, n, planned)
				}
			}
			if math.Abs(float64(total)-tc.want) > 0.05*tc.want {
				t.Errorf("sent %d in all, planned %v", total, tc.want)
			}
		})
	}
}

// At a constant rate, the requests are evenly spaced: a sleep that
// overshoots does not make the next request go at once.
func TestPacerSpacesRequests(t *testing.T) {
	c := CurveOf(Drill{Pattern: Constant, Rate: 20, Duration: mdur("3s")})
	sends := paced(t, Pacer{Curve: c})
	for i := 1; i < len(sends); i++ {
		if gap := sends[i] - sends[i-1]; gap < 45*time.Millisecond {
			t.Fatalf("requests %d and %d %s apart, planned 50ms", i-1, i, gap)
		}
	}
	if len(sends) != 59 && len(sends) != 60 {
		t.Errorf("%d requests in 3s at 20/s", len(sends))
	}
}

func TestWhenInvertsHits(t *testing.T) {
	c := CurveOf(Drill{Pattern: Spike, Rate: 10, To: 100, RampUp: mdur("5s"), At: mdur("10s"), Hold: mdur("3s"), Duration: mdur("20s")})
	for _, n := range []float64{1, 12.5, 25, 100, 300, 494} {
		at, ok := c.When(n)
		if !ok {
			t.Fatalf("%v requests never reached", n)
		}
		if got := c.Hits(at); math.Abs(got-n) > 1e-6 {
			t.Errorf("When(%v) = %s, where Hits is %v", n, at, got)
		}
	}
	if _, ok := c.When(c.Hits(c.Length()) + 1); ok {
		t.Error("a request beyond the plan is planned")
	}
}

func TestPhases(t *testing.T) {
	d := Drill{Pattern: Spike, Rate: 1, To: 5, RampUp: mdur("5s"), At: mdur("10s"), Hold: mdur("3s"), Duration: mdur("20s")}
	for at, want := range map[time.Duration]string{0: "ramp_up", 5 * time.Second: "baseline", 15 * time.Second: "spike", 18 * time.Second: "baseline"} {
		if got := d.Phase(at); got != want {
			t.Errorf("phase at %s: %s, want %s", at, got, want)
		}
	}
}
