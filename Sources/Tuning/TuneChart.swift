import Foundation

/// An SVG chart of throughput and peak memory against chunk length (log scale), one line
/// each on its own axis, Pareto configurations filled, the recommended one ringed.
public enum TuneChart {
    static let width = 800.0, height = 460.0
    static let left = 78.0, right = 86.0, top = 64.0, bottom = 70.0
    static let speedColour = "#1f6fb4", memoryColour = "#c8452c"

    public static func svg(_ report: TuneReport) -> String {
        let points = report.configurations.enumerated().sorted { $0.element.chunkSeconds < $1.element.chunkSeconds }
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let chunks = points.map { log2($0.element.chunkSeconds) }
        let xLow = (chunks.min() ?? 0) - 0.3, xHigh = max((chunks.max() ?? 1) + 0.3, xLow + 1)
        func x(_ chunk: Double) -> Double { left + (log2(chunk) - xLow) / (xHigh - xLow) * plotWidth }

        let speedAxis = niceAxis(max: points.map(\.element.realtimeFactor).max() ?? 1)
        let memoryAxis = niceAxis(max: points.map { Double($0.element.peakRSSBytes) / 1e6 }.max() ?? 1)
        func ySpeed(_ value: Double) -> Double { top + plotHeight * (1 - value / speedAxis.top) }
        func yMemory(_ megabytes: Double) -> Double { top + plotHeight * (1 - megabytes / memoryAxis.top) }

        var svg: [String] = []
        svg.append("""
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="13">
            <rect width="100%" height="100%" fill="white"/>
            """)
        let title = "audiosep-stream tune: \(escape(report.engine))" + (report.query.map { " \"\(escape($0))\"" } ?? "")
            + String(format: ", %.0f s of %d Hz %d ch, %d thread%@", report.input.seconds, report.input.sampleRate,
                     report.input.channels, report.threads, report.threads == 1 ? "" : "s")
        svg.append(text(title, x: width / 2, y: 26, anchor: "middle", extra: "font-size=\"16\" font-weight=\"bold\""))
        // Grid and axes.
        for tick in speedAxis.ticks {
            let y = ySpeed(tick)
            svg.append(line(left, y, width - right, y, stroke: "#e3e3e3"))
            svg.append(text(format(tick) + "x", x: left - 8, y: y + 4, anchor: "end", extra: "fill=\"\(speedColour)\""))
        }
        for tick in memoryAxis.ticks {
            svg.append(text(format(tick), x: width - right + 8, y: yMemory(tick) + 4, anchor: "start", extra: "fill=\"\(memoryColour)\""))
        }
        for point in points {
            let chunk = point.element.chunkSeconds
            svg.append(line(x(chunk), top, x(chunk), top + plotHeight, stroke: "#f0f0f0"))
            svg.append(text(TuneReport.seconds(chunk), x: x(chunk), y: top + plotHeight + 18, anchor: "middle"))
            let snr = point.element.boundarySNR.map { String(format: "%.0f dB", $0) } ?? "exact"
            svg.append(text(snr, x: x(chunk), y: top + plotHeight + 34, anchor: "middle", extra: "fill=\"#777\" font-size=\"11\""))
        }
        svg.append("<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotWidth)\" height=\"\(plotHeight)\" fill=\"none\" stroke=\"#888\"/>")
        svg.append(text("boundary SNR:", x: left - 8, y: top + plotHeight + 34, anchor: "end", extra: "fill=\"#777\" font-size=\"11\""))
        svg.append(text("chunk length (s, log scale)", x: left + plotWidth / 2, y: height - 14, anchor: "middle"))
        svg.append(rotated("throughput (x real time)", x: 22, y: top + plotHeight / 2, colour: speedColour))
        svg.append(rotated("peak resident memory (MB)", x: width - 20, y: top + plotHeight / 2, colour: memoryColour))
        // The two series.
        let speedPath = points.map { String(format: "%.1f,%.1f", x($0.element.chunkSeconds), ySpeed($0.element.realtimeFactor)) }
        let memoryPath = points.map { String(format: "%.1f,%.1f", x($0.element.chunkSeconds), yMemory(Double($0.element.peakRSSBytes) / 1e6)) }
        svg.append("<polyline points=\"\(speedPath.joined(separator: " "))\" fill=\"none\" stroke=\"\(speedColour)\" stroke-width=\"2.5\"/>")
        svg.append("<polyline points=\"\(memoryPath.joined(separator: " "))\" fill=\"none\" stroke=\"\(memoryColour)\" stroke-width=\"2.5\" stroke-dasharray=\"7 4\"/>")
        for point in points {
            let configuration = point.element
            let fill = configuration.pareto ? nil : "white"
            let cx = x(configuration.chunkSeconds)
            svg.append(circle(cx, ySpeed(configuration.realtimeFactor), colour: speedColour, fill: fill))
            svg.append(circle(cx, yMemory(Double(configuration.peakRSSBytes) / 1e6), colour: memoryColour, fill: fill))
            if report.recommendation.index == point.offset {
                svg.append("<circle cx=\"\(String(format: "%.1f", cx))\" cy=\"\(String(format: "%.1f", ySpeed(configuration.realtimeFactor)))\" r=\"11\" fill=\"none\" stroke=\"#222\" stroke-width=\"2\"/>")
                let nearRight = cx > left + plotWidth * 0.85, nearLeft = cx < left + plotWidth * 0.15
                svg.append(text("recommended", x: nearRight ? cx - 14 : (nearLeft ? cx + 14 : cx),
                                y: ySpeed(configuration.realtimeFactor) - 16,
                                anchor: nearRight ? "end" : (nearLeft ? "start" : "middle"), extra: "font-weight=\"bold\""))
            }
        }
        // Legend.
        let legendY = 46.0
        svg.append(line(left, legendY, left + 28, legendY, stroke: speedColour, width: 2.5))
        svg.append(text("throughput", x: left + 34, y: legendY + 4, anchor: "start"))
        svg.append("<line x1=\"\(left + 130)\" y1=\"\(legendY)\" x2=\"\(left + 158)\" y2=\"\(legendY)\" stroke=\"\(memoryColour)\" stroke-width=\"2.5\" stroke-dasharray=\"7 4\"/>")
        svg.append(text("peak memory", x: left + 164, y: legendY + 4, anchor: "start"))
        svg.append(circle(left + 282, legendY, colour: "#555", fill: nil))
        svg.append(text("Pareto front", x: left + 292, y: legendY + 4, anchor: "start"))
        svg.append(circle(left + 392, legendY, colour: "#555", fill: "white"))
        svg.append(text("dominated", x: left + 402, y: legendY + 4, anchor: "start"))
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

    static func format(_ value: Double) -> String {
        value.rounded() == value ? String(format: "%.0f", value) : String(format: "%g", value)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func text(_ content: String, x: Double, y: Double, anchor: String, extra: String = "") -> String {
        String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%@\" %@>%@</text>", x, y, anchor, extra, content)
    }

    static func rotated(_ content: String, x: Double, y: Double, colour: String) -> String {
        String(format: "<text transform=\"translate(%.1f %.1f) rotate(-90)\" text-anchor=\"middle\" fill=\"%@\">%@</text>", x, y, colour, content)
    }

    static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, width: Double = 1) -> String {
        String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%@\" stroke-width=\"%g\"/>", x1, y1, x2, y2, stroke, width)
    }

    static func circle(_ cx: Double, _ cy: Double, colour: String, fill: String?) -> String {
        String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%@\" stroke=\"%@\" stroke-width=\"2\"/>", cx, cy, fill ?? colour, colour)
    }
}
