import Foundation

/// An SVG chart against chunk length (log scale): throughput and peak memory in the upper panel,
/// each on its own axis; latency in the lower panel (log scale) over the chunk length it cannot
/// go below. Pareto configurations filled, the recommended one ringed, chunks too long to be
/// recommended shaded. Every label is placed from an estimate of its width so none leaves the canvas.
public enum TuneChart {
    static let width = 860.0
    static let margin = 12.0
    static let upperHeight = 240.0, lowerHeight = 170.0, panelGap = 22.0
    static let speedColour = "#1f6fb4", memoryColour = "#c8452c", latencyColour = "#2a8a3e", chunkColour = "#888"
    static let shadeColour = "#eeeeee"

    /// Width of `content` in pixels, generously: DejaVu Sans (what rsvg falls back to for
    /// Helvetica) averages about 0.6 em, its digits 0.64 em.
    static func textWidth(_ content: String, size: Double, bold: Bool = false) -> Double {
        Double(content.count) * size * (bold ? 0.68 : 0.62)
    }

    public static func svg(_ report: TuneReport) -> String {
        let points = report.configurations.enumerated().sorted { $0.element.chunkSeconds < $1.element.chunkSeconds }
        let configurations = points.map(\.element)
        let recommended = report.recommendation.index.map { index in points.firstIndex { $0.offset == index }! }
        var svg: [String] = []

        // Title, shrunk and then shortened until it fits.
        var title = "audiosep-stream tune: \(report.engine)" + (report.query.map { " \"\($0)\"" } ?? "")
            + String(format: ", %.0f s of %d Hz %d ch, %d thread%@", report.input.seconds, report.input.sampleRate,
                     report.input.channels, report.threads, report.threads == 1 ? "" : "s")
        var titleSize = 16.0
        while titleSize > 11, textWidth(title, size: titleSize, bold: true) > width - 2 * margin { titleSize -= 1 }
        while textWidth(title, size: titleSize, bold: true) > width - 2 * margin { title = String(title.dropLast(2)) + "…" }
        svg.append(text(title, x: width / 2, y: 12 + titleSize, anchor: "middle", extra: "font-size=\"\(Int(titleSize))\" font-weight=\"bold\""))

        // Legend, flowed into rows.
        enum Swatch { case line(String, dash: String?), dot(filled: Bool), ring, band }
        var items: [(Swatch, String)] = [
            (.line(speedColour, dash: nil), "throughput"), (.line(memoryColour, dash: "7 4"), "peak memory"),
            (.line(latencyColour, dash: nil), "latency"), (.line(chunkColour, dash: "2 3"), "chunk length (least latency)"),
            (.dot(filled: true), "Pareto front"), (.dot(filled: false), "dominated"),
        ]
        if recommended != nil { items.append((.ring, "recommended")) }
        let longestJudged = TuneAnalysis.longestJudgedChunkSeconds(sampleSeconds: report.input.seconds)
        let anyTooLong = configurations.contains {
            !TuneAnalysis.isJudged(chunkSeconds: $0.requestedChunkSeconds, sampleSeconds: report.input.seconds)
        }
        if anyTooLong {
            items.append((.band, "longer than a third of the sample: too few boundaries to recommend"))
        }
        let anyTooShort = configurations.contains(where: \.belowShortestUseful)
        if anyTooShort {
            items.append((.band, "shorter than the engine's shortest useful chunk: not recommended"))
        }
        var legendX = margin, legendY = 28 + titleSize
        for (swatch, label) in items {
            let itemWidth = 28 + 6 + textWidth(label, size: 12) + 18
            if legendX + itemWidth - 18 > width - margin, legendX > margin { legendX = margin; legendY += 20 }
            switch swatch {
            case .line(let colour, let dash):
                svg.append(line(legendX, legendY, legendX + 28, legendY, stroke: colour, width: 2.5, dash: dash))
            case .dot(let filled):
                svg.append(circle(legendX + 14, legendY, colour: "#555", fill: filled ? nil : "white"))
            case .ring:
                svg.append(ring(legendX + 14, legendY))
            case .band:
                svg.append(String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"28\" height=\"12\" fill=\"%@\" stroke=\"#bbb\"/>",
                                  legendX, legendY - 6, shadeColour))
            }
            svg.append(text(label, x: legendX + 34, y: legendY + 4, anchor: "start", extra: "font-size=\"12\""))
            legendX += itemWidth
        }

        // Axes and margins wide enough for their tick labels and rotated titles.
        let speedAxis = niceAxis(max: configurations.map(\.realtimeFactor).max() ?? 1)
        let memoryAxis = niceAxis(max: configurations.map { Double($0.peakRSSBytes) / 1e6 }.max() ?? 1)
        let latencyValues = configurations.flatMap { [$0.latencySeconds, $0.chunkSeconds] }.filter { $0 > 0 }
        let latencyAxis = logAxis(min: latencyValues.min() ?? 1, max: latencyValues.max() ?? 10)
        let speedLabels = speedAxis.ticks.map { format($0) + "x" }, memoryLabels = memoryAxis.ticks.map(format)
        let latencyLabels = latencyAxis.ticks.map(format)
        let rowLabels = ["chunk (s)", "boundary SNR"]
        let leftTicks = (speedLabels + latencyLabels).map { textWidth($0, size: 12) }.max() ?? 0
        let left = max(margin + 18 + 10 + leftTicks + 8, margin + (rowLabels.map { textWidth($0, size: 11) }.max() ?? 0) + 24)
        let right = margin + 18 + 10 + (memoryLabels.map { textWidth($0, size: 12) }.max() ?? 0) + 8
        let plotWidth = width - left - right
        let upperTop = legendY + 22, upperBottom = upperTop + upperHeight
        let lowerTop = upperBottom + panelGap, lowerBottom = lowerTop + lowerHeight
        let height = lowerBottom + 70

        let chunks = configurations.map { log2($0.chunkSeconds) }
        let xLow = (chunks.min() ?? 0) - 0.3, xHigh = max((chunks.max() ?? 1) + 0.3, xLow + 1)
        func x(_ chunk: Double) -> Double { left + (log2(chunk) - xLow) / (xHigh - xLow) * plotWidth }
        func ySpeed(_ value: Double) -> Double { upperTop + upperHeight * (1 - value / speedAxis.top) }
        func yMemory(_ megabytes: Double) -> Double { upperTop + upperHeight * (1 - megabytes / memoryAxis.top) }
        func yLatency(_ seconds: Double) -> Double {
            lowerTop + lowerHeight * (1 - (log10(seconds) - latencyAxis.low) / (latencyAxis.high - latencyAxis.low))
        }

        svg.insert("""
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="13">
            <rect width="100%" height="100%" fill="white"/>
            """, at: 0)
        if anyTooLong {
            let bandLeft = min(max(x(longestJudged), left), width - right)
            for (top, bottom) in [(upperTop, upperBottom), (lowerTop, lowerBottom)] {
                svg.append(String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\"/>",
                                  bandLeft, top, width - right - bandLeft, bottom - top, shadeColour))
            }
        }
        if anyTooShort {
            let bandRight = min(max(x(report.shortestUsefulChunkSeconds), left), width - right)
            for (top, bottom) in [(upperTop, upperBottom), (lowerTop, lowerBottom)] {
                svg.append(String(format: "<rect data-band=\"too-short\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\"/>",
                                  left, top, bandRight - left, bottom - top, shadeColour))
            }
        }
        for (tick, label) in zip(speedAxis.ticks, speedLabels) {
            svg.append(line(left, ySpeed(tick), width - right, ySpeed(tick), stroke: "#e3e3e3"))
            svg.append(text(label, x: left - 8, y: ySpeed(tick) + 4, anchor: "end", extra: "font-size=\"12\" fill=\"\(speedColour)\""))
        }
        for (tick, label) in zip(memoryAxis.ticks, memoryLabels) {
            svg.append(text(label, x: width - right + 8, y: yMemory(tick) + 4, anchor: "start", extra: "font-size=\"12\" fill=\"\(memoryColour)\""))
        }
        for (tick, label) in zip(latencyAxis.ticks, latencyLabels) {
            svg.append(line(left, yLatency(tick), width - right, yLatency(tick), stroke: "#e3e3e3"))
            svg.append(text(label, x: left - 8, y: yLatency(tick) + 4, anchor: "end", extra: "font-size=\"12\" fill=\"\(latencyColour)\""))
        }
        for configuration in configurations {
            let cx = x(configuration.chunkSeconds)
            for (top, bottom) in [(upperTop, upperBottom), (lowerTop, lowerBottom)] {
                svg.append(line(cx, top, cx, bottom, stroke: "#f0f0f0"))
            }
            svg.append(text(TuneReport.seconds(configuration.chunkSeconds), x: cx, y: lowerBottom + 18, anchor: "middle", extra: "font-size=\"12\""))
            let snr = configuration.boundarySNR.map { String(format: "%.0f dB", $0) } ?? "exact"
            svg.append(text(snr, x: cx, y: lowerBottom + 34, anchor: "middle", extra: "fill=\"#777\" font-size=\"11\""))
        }
        for (top, bottom) in [(upperTop, upperBottom), (lowerTop, lowerBottom)] {
            svg.append(String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#888\"/>",
                              left, top, plotWidth, bottom - top))
        }
        svg.append(text(rowLabels[0], x: margin, y: lowerBottom + 18, anchor: "start", extra: "fill=\"#555\" font-size=\"11\""))
        svg.append(text(rowLabels[1], x: margin, y: lowerBottom + 34, anchor: "start", extra: "fill=\"#777\" font-size=\"11\""))
        svg.append(text("chunk length (s, log scale)", x: left + plotWidth / 2, y: lowerBottom + 58, anchor: "middle"))
        svg.append(rotated("throughput (x real time)", x: margin + 9, y: (upperTop + upperBottom) / 2, colour: speedColour))
        svg.append(rotated("peak resident memory (MB)", x: width - margin - 9, y: (upperTop + upperBottom) / 2, colour: memoryColour))
        svg.append(rotated("latency (s, log)", x: margin + 9, y: (lowerTop + lowerBottom) / 2, colour: latencyColour))

        // The series: data-series names them for readers of the file.
        func polyline(_ series: String, _ values: [(Double, Double)], colour: String, dash: String?, width: Double = 2.5) -> String {
            let path = values.map { String(format: "%.1f,%.1f", $0.0, $0.1) }.joined(separator: " ")
            return "<polyline data-series=\"\(series)\" points=\"\(path)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"\(width)\""
                + (dash.map { " stroke-dasharray=\"\($0)\"" } ?? "") + "/>"
        }
        svg.append(polyline("chunk-length", configurations.map { (x($0.chunkSeconds), yLatency($0.chunkSeconds)) },
                            colour: chunkColour, dash: "2 3", width: 1.5))
        svg.append(polyline("throughput", configurations.map { (x($0.chunkSeconds), ySpeed($0.realtimeFactor)) },
                            colour: speedColour, dash: nil))
        svg.append(polyline("memory", configurations.map { (x($0.chunkSeconds), yMemory(Double($0.peakRSSBytes) / 1e6)) },
                            colour: memoryColour, dash: "7 4"))
        svg.append(polyline("latency", configurations.map { (x($0.chunkSeconds), yLatency($0.latencySeconds)) },
                            colour: latencyColour, dash: nil))
        for (position, configuration) in configurations.enumerated() {
            let fill = configuration.pareto ? nil : "white"
            let cx = x(configuration.chunkSeconds)
            svg.append(circle(cx, ySpeed(configuration.realtimeFactor), colour: speedColour, fill: fill))
            svg.append(circle(cx, yMemory(Double(configuration.peakRSSBytes) / 1e6), colour: memoryColour, fill: fill))
            svg.append(circle(cx, yLatency(configuration.latencySeconds), colour: latencyColour, fill: fill))
            guard position == recommended else { continue }
            let cy = ySpeed(configuration.realtimeFactor)
            svg.append(ring(cx, cy))
            svg.append(ring(cx, yLatency(configuration.latencySeconds)))
            // Above the ring unless that leaves the panel; centred unless that leaves the plot.
            let labelWidth = textWidth("recommended", size: 13, bold: true)
            let labelX = min(max(cx, left + labelWidth / 2 + 4), width - right - labelWidth / 2 - 4)
            let labelY = cy - 16 - 16 < upperTop ? cy + 30 : cy - 16
            svg.append(text("recommended", x: labelX, y: labelY, anchor: "middle", extra: "font-weight=\"bold\""))
        }
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }

    /// Axis top and ticks at 1, 2 or 5 × 10^k steps, about five of them.
    static func niceAxis(max value: Double) -> (top: Double, ticks: [Double]) {
        let span = value > 0 && value.isFinite ? value * 1.1 : 1
        let raw = span / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        let top = ceil(span / step) * step
        return (top, stride(from: 0, through: top + step / 2, by: step).map { $0 })
    }

    /// A log axis (bounds as log10 of seconds) a little wider than the data, ticks at 1, 2 and
    /// 5 × 10^k, or fewer per decade when the decades are too short for three labels `pixels` tall.
    static func logAxis(min low: Double, max high: Double, pixels: Double = lowerHeight) -> (low: Double, high: Double, ticks: [Double]) {
        let bottom = log10(low) - 0.1, top = Swift.max(log10(high) + 0.1, log10(low) + 0.5)
        let pixelsPerDecade = pixels / (top - bottom)
        let mantissas: [Double] = pixelsPerDecade >= 60 ? [1, 2, 5] : (pixelsPerDecade >= 36 ? [1, 3] : [1])
        var ticks: [Double] = []
        for exponent in Int(floor(bottom))...Int(ceil(top)) {
            for mantissa in mantissas {
                let value = mantissa * pow(10, Double(exponent))
                if log10(value) >= bottom, log10(value) <= top { ticks.append(value) }
            }
        }
        return (bottom, top, ticks)
    }

    static func format(_ value: Double) -> String {
        value.rounded() == value ? String(format: "%.0f", value) : String(format: "%g", value)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Escapes `content`; widths are estimated on the unescaped text.
    static func text(_ content: String, x: Double, y: Double, anchor: String, extra: String = "") -> String {
        String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%@\" %@>%@</text>", x, y, anchor, extra, escape(content))
    }

    static func rotated(_ content: String, x: Double, y: Double, colour: String) -> String {
        String(format: "<text transform=\"translate(%.1f %.1f) rotate(-90)\" text-anchor=\"middle\" fill=\"%@\">%@</text>", x, y, colour, escape(content))
    }

    static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, width: Double = 1, dash: String? = nil) -> String {
        String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%@\" stroke-width=\"%g\"", x1, y1, x2, y2, stroke, width)
            + (dash.map { " stroke-dasharray=\"\($0)\"" } ?? "") + "/>"
    }

    static func circle(_ cx: Double, _ cy: Double, colour: String, fill: String?) -> String {
        String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%@\" stroke=\"%@\" stroke-width=\"2\"/>", cx, cy, fill ?? colour, colour)
    }

    static func ring(_ cx: Double, _ cy: Double) -> String {
        String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"11\" fill=\"none\" stroke=\"#222\" stroke-width=\"2\"/>", cx, cy)
    }
}
