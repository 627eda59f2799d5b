# Writes the CSV files beside this script from the R packages that ship the
# data sets (Debian: apt-get install r-cran-mass r-cran-flexmix r-cran-mixtools).
# Run from this folder:  Rscript export_from_r.R
# Numbers are written with the fewest significant digits (15 to 17) that read
# back to exactly R's double; factors become their labels (integers where the
# labels are integers); patent's company names lose their fixed-width padding.
suppressMessages({
  library(MASS); library(flexmix); library(mixtools)
})

exact <- function(x) {
  if (!is.double(x)) return(x)
  for (digits in 15:17) {
    s <- sprintf(paste0("%.", digits, "g"), x)
    if (all(as.numeric(s) == x)) return(s)
  }
  stop("no exact representation")
}

write_exact <- function(d, file) {
  text <- logical(ncol(d))
  for (j in names(d)) {
    if (is.factor(d[[j]])) {
      lab <- as.character(d[[j]])
      num <- suppressWarnings(as.integer(lab))
      d[[j]] <- if (all(!is.na(num))) num else lab
    }
    if (is.character(d[[j]])) {
      d[[j]] <- trimws(d[[j]])
      text[match(j, names(d))] <- TRUE
    }
    d[[j]] <- exact(d[[j]])
  }
  write.csv(d, file, row.names = FALSE, quote = which(text))
  cat(file, nrow(d), "rows\n")
}

data("mcycle", package = "MASS")
data("NPreg", package = "flexmix")
data("patent", package = "flexmix")
data("Mehta", package = "flexmix")
data("tonedata", package = "mixtools")
data("CO2data", package = "mixtools")
write_exact(mcycle, "mcycle.csv")
write_exact(NPreg, "npreg.csv")
write_exact(tonedata, "tonedata.csv")
write_exact(CO2data, "co2.csv")
write_exact(patent, "patent.csv")
write_exact(Mehta, "mehta.csv")
for (p in c("MASS", "flexmix", "mixtools"))
  cat(p, format(packageVersion(p)), "\n")
