@testable import DSP
@testable import Engines
import Foundation
@testable import Separation
import XCTest

final class DSPEngineTests: XCTestCase {
    func testQueriesMapToTargets() throws {
        let cases: [(String, DSPTarget)] = [
            ("vocals", .voice), ("Vocals", .voice), ("a man talking", .voice), ("the singer", .voice), ("dialogue", .voice),
            ("Narration please", .voice), ("music", .accompaniment), ("instrumental", .accompaniment), ("karaoke", .accompaniment),
            ("background", .accompaniment), ("drums", .percussion), ("DRUM", .percussion), ("the hi-hat", .percussion),
            ("kicks and snares", .percussion), ("bass", .bass), ("bass guitar", .bass), ("sub", .bass), ("pads", .harmonic),
            ("strings", .harmonic), ("Piano", .harmonic), ("chords", .harmonic), ("background music", .accompaniment),
            ("the bass drum", .percussion), ("synth bass", .bass), ("a kick drum", .percussion),
        ]
        for (query, target) in cases { XCTAssertEqual(try DSPQuery(parsing: query), DSPQuery(target: target), query) }
        for query in ["a dog barking", "", "basset hound", "rain", "no", "without"] {
            XCTAssertThrowsError(try DSPQuery(parsing: query), query) {
                let message = "\($0)"
                XCTAssertTrue(message.contains("voice (") && message.contains("percussion (") && message.contains("--model"), message)
            }
        }
    }

    /// Negations ask for the rest: the voice's rest is the accompaniment and the other way round;
    /// any other class's rest is the input minus that class.
    func testNegationsAskForTheRest() throws {
        let cases: [(String, DSPQuery)] = [
            ("no vocals", DSPQuery(target: .accompaniment)), ("without vocals", DSPQuery(target: .accompaniment)),
            ("vocal-less", DSPQuery(target: .accompaniment)), ("minus the singer", DSPQuery(target: .accompaniment)),
            ("remove the voice", DSPQuery(target: .accompaniment)), ("no music", DSPQuery(target: .voice)),
            ("music without vocals", DSPQuery(target: .accompaniment)), ("everything but the vocals", DSPQuery(target: .accompaniment)),
            ("without drums", DSPQuery(target: .percussion, rest: true)), ("drumless", DSPQuery(target: .percussion, rest: true)),
            ("no bass", DSPQuery(target: .bass, rest: true)), ("all but the piano", DSPQuery(target: .harmonic, rest: true)),
            ("Drum-less mix", DSPQuery(target: .percussion, rest: true)), ("except the kick", DSPQuery(target: .percussion, rest: true)),
        ]
        for (query, reading) in cases { XCTAssertEqual(try DSPQuery(parsing: query), reading, query) }
        XCTAssertEqual(DSPQuery(target: .percussion, rest: true).description, "everything but percussion")
        XCTAssertEqual(try DSPEngine(query: "no vocals").note, "built-in engine: 'no vocals' → accompaniment")
        XCTAssertTrue(try DSPEngine(query: "without drums").asksForRest)
        XCTAssertFalse(try DSPEngine(query: "drums").asksForRest)
    }

    /// A query naming two different things is refused, in either order.
    func testTwoClassesAreRefused() {
        for query in ["vocals and drums", "drums and vocals", "drum and bass", "vocals without drums"] {
            XCTAssertThrowsError(try DSPQuery(parsing: query), query) { error in
                guard case EngineError.severalTargets(_, let targets) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(targets.count, 2, query)
                XCTAssertTrue("\(error)".contains("one thing at a time"), "\(error)")
            }
        }
    }

    /// Complementary targets are complementary masks: their outputs add back up to the mixture.
    func testComplementaryTargetsSumToTheMixture() throws {
        var state: UInt64 = 7
        let mixture = (0..<60_000).map { index -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let noise = Float(Int64(bitPattern: state >> 11) % 1000) / 20_000
            return 0.3 * sin(Float(index) * 0.05) + (index % 11_025 < 400 ? noise * 8 : noise)
        }
        for (a, b) in [(DSPTarget.voice, DSPTarget.accompaniment)] {
            let first = try DSPEngine(target: a).separate(mixture), second = try DSPEngine(target: b).separate(mixture)
            XCTAssertEqual(first.count, mixture.count)
            let error = zip(zip(first, second), mixture).map { abs($0.0 + $0.1 - $1) }.max()!
            XCTAssertLessThan(error, 1e-4, "\(a) + \(b) = mixture")
        }
        // Every other target is a soft mask too: never more energy than the mixture in any bin, so
        // never much more in total.
        let energy = mixture.map { Double($0) * Double($0) }.reduce(0, +)
        for target in [DSPTarget.percussion, .bass, .harmonic] {
            let output = try DSPEngine(target: target).separate(mixture)
            XCTAssertLessThan(output.map { Double($0) * Double($0) }.reduce(0, +), energy * 1.05, "\(target)")
        }
        for length in [0, 1, 500, 1024, 1025, 3000] {
            let output = try DSPEngine(target: .voice).separate(Array(mixture[0..<length]))
            XCTAssertEqual(output.count, length)
            XCTAssertTrue(output.allSatisfy(\.isFinite))
        }
    }

    func testStereoCentreCue() throws {
        var state: UInt64 = 11
        let signal = (0..<50_000).map { index -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return 0.2 * sin(Float(index) * 0.031) + Float(Int64(bitPattern: state >> 11) % 1000) / 10_000
        }
        let voice = DSPEngine(target: .voice), accompaniment = DSPEngine(target: .accompaniment)
        // Complementary per channel, stereo included.
        let stereo = [signal, signal.map { $0 * 0.5 }]
        let v = try voice.separate(channels: stereo)[0], a = try accompaniment.separate(channels: stereo)[0]
        for channel in 0..<2 {
            XCTAssertLessThan(zip(zip(v[channel], a[channel]), stereo[channel]).map { abs($0.0 + $0.1 - $1) }.max()!, 1e-4)
        }
        // Something only on the left is not a centred voice: stereo voice output drops well below the mono one.
        let hardLeft = [signal, [Float](repeating: 0, count: signal.count)]
        let energy = { (x: [Float]) in x.map { Double($0) * Double($0) }.reduce(0, +) }
        let stereoVoice = try voice.separate(channels: hardLeft)[0][0], monoVoice = try voice.separate(signal)
        XCTAssertLessThan(energy(stereoVoice), 0.01 * energy(monoVoice))
        // Identical channels are centred: the cue changes nothing.
        let centred = try voice.separate(channels: [signal, signal])[0]
        XCTAssertLessThan(zip(centred[0], monoVoice).map { abs($0 - $1) }.max()!, 1e-4)
    }

    func testFactoryFallsBackToTheBuiltInEngine() throws {
        let engine = try EngineFactory.make(name: "auto", query: "vocals", model: nil, embedding: nil)
        XCTAssertEqual(engine.name, "dsp")
        XCTAssertEqual(engine.sampleRate, 44_100)
        XCTAssertThrowsError(try EngineFactory.make(name: "dsp", query: "a dog barking", model: nil, embedding: nil))
        XCTAssertThrowsError(try EngineFactory.make(name: "auto", query: nil, model: nil, embedding: nil)) {
            XCTAssertEqual($0 as? EngineError, .missingQuery)
        }
    }

    /// The bass line's pitch: on a synthetic harmonic series (fundamental 55 Hz, partials at 1/k)
    /// over a louder pad partial at 311 Hz, the search finds 55 Hz to within half a bin, and the
    /// comb is 1 on its partials and 0 halfway between them.
    func testBassPitchSearchFindsTheFundamentalAndCombsItsPartials() {
        let hz = Float(44_100) / 8192, bins = 4097, frames = 3
        var magnitude = [Float](repeating: 0, count: frames * bins)
        for frame in 0..<frames {
            for partial in 1...6 { magnitude[frame * bins + Int((Float(partial) * 55 / hz).rounded())] = 1 / Float(partial) }
            magnitude[frame * bins + Int((311 / hz).rounded())] = 2
        }
        let mask = [Float](repeating: 1, count: frames * bins)
        let pitches = DSPEngine.bassPitches(mask: mask, magnitude: magnitude, frames: frames, bins: bins, hz: hz)
        for pitch in pitches { XCTAssertEqual(pitch, 55, accuracy: hz / 2, "pitch \(pitch) Hz") }
        let teeth = DSPEngine.comb(pitch: 55, bins: bins, hz: hz, upTo: 450)
        XCTAssertEqual(teeth.count, Int((450 / hz).rounded(.up)))
        for partial in 1...7 {
            let centre = Float(partial) * 55 / hz
            XCTAssertGreaterThan(teeth[Int(centre.rounded())], 0.8, "partial \(partial)")
            XCTAssertEqual(teeth[Int((centre + 27.5 / hz).rounded())], 0, "between partials \(partial) and \(partial + 1)")
        }
    }
}

/// The median networks against the plain running median and a sort.
final class MedianNetworkTests: XCTestCase {
    func testNetworksGiveTheMedianOfEveryColumn() {
        var state: UInt64 = 3
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24) - 0.5
        }
        for count in [1, 2, 3, 5, 15, 16, 17, 31, 40, 41] {
            for averages in [false, true] {
                let length = 37
                var rows = (0..<(count * length)).map { _ in next() }
                // Ties too: a few columns hold repeated values.
                for row in 0..<count { rows[row * length] = Float(row % 3) }
                let columns = (0..<length).map { column in (0..<count).map { rows[$0 * length + column] }.sorted() }
                var output = [Float](repeating: 0, count: length)
                rows.withUnsafeMutableBufferPointer { r in
                    output.withUnsafeMutableBufferPointer { o in
                        MedianNetwork(count: count, averagesMiddles: averages).median(rows: r.baseAddress!, length: length, into: o.baseAddress!)
                    }
                }
                for column in 0..<length {
                    let sorted = columns[column]
                    let expected = averages && count % 2 == 0 ? 0.5 * (sorted[count / 2 - 1] + sorted[count / 2]) : sorted[count / 2]
                    XCTAssertEqual(output[column], expected, "count \(count), column \(column), averaging \(averages)")
                }
            }
        }
    }

    func testFiltersAlongBinsAndFramesMatchTheRunningMedian() {
        var state: UInt64 = 5
        let frames = 23, bins = 300
        let input = (0..<(frames * bins)).map { _ -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24)
        }
        for width in [1, 5, 17, 31] {
            XCTAssertEqual(MedianFilter.alongBins(input, frames: frames, bins: bins, width: width),
                           MedianFilter.runningAlongBins(input, frames: frames, bins: bins, width: width), "width \(width)")
            // Along frames: the running median of the transposed matrix.
            var transposed = [Float](repeating: 0, count: input.count)
            for frame in 0..<frames { for bin in 0..<bins { transposed[bin * frames + frame] = input[frame * bins + bin] } }
            let reference = MedianFilter.runningAlongBins(transposed, frames: bins, bins: frames, width: width)
            let filtered = MedianFilter.alongFrames(input, frames: frames, bins: bins, width: width)
            for frame in 0..<frames {
                for bin in 0..<bins where filtered[frame * bins + bin] != reference[bin * frames + frame] {
                    XCTFail("width \(width): frame \(frame), bin \(bin)")
                    return
                }
            }
        }
    }
}
