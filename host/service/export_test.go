package service

// SharedCompilations is testCompilations, for the package's external tests.
var SharedCompilations = testCompilations
