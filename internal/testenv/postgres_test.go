package testenv

import "testing"

func TestStartPostgres(t *testing.T) {
	pg := StartPostgres(t)
	out, err := pg.TryPSQL(pg.User, pg.Password, "select current_user")
	if err != nil || out != "postgres" {
		t.Fatalf("got %q, %v; want postgres", out, err)
	}
	if _, err := pg.TryPSQL(pg.User, "wrong", "select 1"); err == nil {
		t.Errorf("a wrong password logged in: password authentication is off")
	}
}
