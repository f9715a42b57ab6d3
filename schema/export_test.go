package schema

// PeriodsOverlapping exposes periodsOverlapping to the external tests in package
// schema_test.
var PeriodsOverlapping = periodsOverlapping
