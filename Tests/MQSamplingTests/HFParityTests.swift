// Golden tier: the distribution the sampler draws from must equal the one Hugging Face's logits
// processors produce (RepetitionPenaltyLogitsProcessor → TemperatureLogitsWarper → TopKLogitsWarper →
// TopPLogitsWarper, then softmax). The cases below were printed by this script (transformers 5.24.0,
// torch 2.15.0, /work/venv), then pasted as Swift literals; no Python runs at test time:
//
// # Golden distributions from Hugging Face's logits processors (transformers), for HFParityTests.swift.
// import torch, json
// from transformers.generation.logits_process import (RepetitionPenaltyLogitsProcessor,
//     TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper)
// g = torch.Generator().manual_seed(1234)
// cases = [
//     dict(temperature=1.0, top_k=0, top_p=1.0, penalty=1.0),
//     dict(temperature=0.7, top_k=5, top_p=1.0, penalty=1.0),
//     dict(temperature=1.3, top_k=0, top_p=0.8, penalty=1.0),
//     dict(temperature=0.9, top_k=8, top_p=0.9, penalty=1.3),
//     dict(temperature=1.0, top_k=0, top_p=1.0, penalty=0.8),
//     dict(temperature=2.0, top_k=3, top_p=0.5, penalty=1.5),
//     # Ties at the k-th value: HF keeps all of them. Token 1 is in the history twice (penalised once).
//     dict(temperature=1.0, top_k=2, top_p=1.0, penalty=2.0,
//          logits=[1.0, 3.0, 2.0, 2.0, 0.5, 2.0, -1.0, 2.5], history=[1, 6, 1]),
// ]
// out = []
// for c in cases:
//     logits = (torch.randn(1, 24, generator=g) * 3).round(decimals=2)
//     history = torch.randint(0, 24, (1, 10), generator=g)
//     if "logits" in c: logits, history = torch.tensor([c.pop("logits")]), torch.tensor([c.pop("history")])
//     s = logits.clone()
//     procs = []
//     if c["penalty"] != 1.0: procs.append(RepetitionPenaltyLogitsProcessor(c["penalty"]))
//     procs.append(TemperatureLogitsWarper(c["temperature"]))
//     if c["top_k"] > 0: procs.append(TopKLogitsWarper(c["top_k"]))
//     if c["top_p"] < 1.0: procs.append(TopPLogitsWarper(c["top_p"]))
//     for p in procs: s = p(history, s)
//     probs = torch.softmax(s.double(), dim=-1)[0]
//     kept = [(i, float(probs[i])) for i in range(probs.shape[0]) if probs[i] > 0]
//     out.append(dict(c, logits=[float(x) for x in logits[0]], history=[int(x) for x in history[0]], kept=kept))
// print(json.dumps(out))
//
// Tolerance 1e-6 per probability: HF divides float32 logits by T where we compute (l - max) / T in
// Double, which moves probabilities by about 1e-7. None of the top-p cases sits within 1e-2 of the
// cut, so the kept sets must match exactly.
import XCTest
@testable import MQSampling

final class HFParityTests: XCTestCase {
    struct HFCase {
        var temperature: Float, topK: Int, topP: Float, penalty: Float
        var logits: [Float], history: [Int], kept: [(Int, Double)]
    }

    static let cases: [HFCase] = [
        HFCase(temperature: 1.0, topK: 0, topP: 1.0, penalty: 1.0,
               logits: [-0.3400000035762787, -1.4900000095367432, 0.49000000953674316, -2.6500000953674316, 0.1599999964237213, 2.009999990463257, -0.18000000715255737, -1.399999976158142, 1.909999966621399, -2.140000104904175, -3.25, -1.659999966621399, 2.9200000762939453, -1.5499999523162842, 4.28000020980835, 2.4000000953674316, -7.579999923706055, 4.429999828338623, -0.5099999904632568, -2.9800000190734863, -4.369999885559082, 0.7699999809265137, -1.2100000381469727, 1.2599999904632568],
               history: [15, 3, 16, 1, 19, 8, 19, 2, 3, 12],
               kept: [(0, 0.003356538437835134), (1, 0.0010628034809179285), (2, 0.007697612602843339), (3, 0.0003331741756651301), (4, 0.005533996318381365), (5, 0.035195217613868617), (6, 0.0039389343316146705), (7, 0.0011628922762684953), (8, 0.031845949073680005), (9, 0.0005548320158272048), (10, 0.00018284988188898142), (11, 0.0008966499422866623), (12, 0.08743627969023177), (13, 0.001000910681770956), (14, 0.3406686927471485), (15, 0.051982665905402424), (16, 2.4076846870203935e-06), (17, 0.39580040167321767), (18, 0.002831793422688259), (19, 0.00023952684052672675), (20, 5.9660228737154836e-05), (21, 0.010184940427252908), (22, 0.0014062269300260375), (23, 0.01662504361723296)]),
        HFCase(temperature: 0.7, topK: 5, topP: 1.0, penalty: 1.0,
               logits: [-4.579999923706055, -6.039999961853027, -4.550000190734863, 1.159999966621399, -3.549999952316284, 2.069999933242798, -0.8500000238418579, -1.7000000476837158, 2.25, -2.200000047683716, 1.3899999856948853, 3.5299999713897705, 0.6399999856948853, 1.6100000143051147, 0.41999998688697815, -2.0799999237060547, 4.590000152587891, 0.800000011920929, 1.350000023841858, -0.8199999928474426, -5.21999979019165, 0.38999998569488525, 2.559999942779541, -4.230000019073486],
               history: [18, 3, 7, 1, 10, 21, 22, 18, 5, 21],
               kept: [(5, 0.020426684269052316), (8, 0.02641640237029672), (11, 0.16444175568258687), (16, 0.7475808649651795), (22, 0.04113429271288457)]),
        HFCase(temperature: 1.3, topK: 0, topP: 0.8, penalty: 1.0,
               logits: [3.9600000381469727, 4.800000190734863, -3.240000009536743, -1.0199999809265137, -4.360000133514404, -8.020000457763672, 4.800000190734863, 2.4100000858306885, -2.1600000858306885, 2.049999952316284, -1.0399999618530273, 0.5600000023841858, -0.7900000214576721, -1.6299999952316284, -4.920000076293945, 2.7899999618530273, -2.0799999237060547, 3.559999942779541, 0.8199999928474426, -1.0199999809265137, -6.050000190734863, 2.0899999141693115, -2.0, -2.5299999713897705],
               history: [4, 7, 23, 9, 10, 12, 16, 21, 20, 17],
               kept: [(0, 0.16783912713015697), (1, 0.3202685526519621), (6, 0.3202685526519621), (15, 0.06823829030075629), (17, 0.12338547726516258)]),
        HFCase(temperature: 0.9, topK: 8, topP: 0.9, penalty: 1.3,
               logits: [2.9100000858306885, 1.0700000524520874, 2.569999933242798, -1.090000033378601, -0.4699999988079071, -3.680000066757202, 3.7300000190734863, 3.5299999713897705, -4.889999866485596, -0.05999999865889549, 0.3400000035762787, -1.9800000190734863, -1.8700000047683716, -2.2200000286102295, 1.0299999713897705, -0.8600000143051147, -0.4000000059604645, -9.75, 2.1600000858306885, 0.6600000262260437, -0.8199999928474426, 2.5799999237060547, -0.18000000715255737, 6.320000171661377],
               history: [0, 17, 17, 18, 2, 15, 21, 4, 19, 2],
               kept: [(6, 0.05326306938470823), (23, 0.9467369306152917)]),
        HFCase(temperature: 1.0, topK: 0, topP: 1.0, penalty: 0.8,
               logits: [-0.07999999821186066, -5.960000038146973, -1.1399999856948853, -4.510000228881836, -8.9399995803833, 1.5299999713897705, 5.130000114440918, 4.389999866485596, 1.690000057220459, 0.1899999976158142, -0.1899999976158142, 9.09000015258789, 0.5600000023841858, -0.5099999904632568, 3.0799999237060547, 0.20999999344348907, 1.0800000429153442, -7.079999923706055, -4.190000057220459, 2.5999999046325684, -0.6800000071525574, 0.36000001430511475, -3.2300000190734863, 0.75],
               history: [7, 8, 12, 20, 8, 8, 15, 23, 17, 5],
               kept: [(0, 9.881467520443757e-05), (1, 2.7616578819019853e-07), (2, 3.423491879897249e-05), (3, 1.1773261556695076e-06), (4, 1.4027249419877233e-08), (5, 0.0007246914883837947), (6, 0.018092381930431632), (7, 0.02586758295234247), (8, 0.0008851402249339395), (9, 0.00012944371118848405), (10, 8.852155916913759e-05), (11, 0.9490780123246945), (12, 0.0002155614704275464), (13, 6.427984541069628e-05), (14, 0.002329120599243306), (15, 0.00013917694573617497), (16, 0.0003152122335670461), (17, 3.71296661976108e-07), (18, 1.6213288149709091e-06), (19, 0.0014412211168362127), (20, 6.213106446711819e-05), (21, 0.00015343026140526617), (22, 4.234418909849065e-06), (23, 0.0002733481141791771)]),
        HFCase(temperature: 2.0, topK: 3, topP: 0.5, penalty: 1.5,
               logits: [4.400000095367432, -0.3100000023841858, -0.4099999964237213, 1.1299999952316284, 1.399999976158142, -3.259999990463257, -4.230000019073486, 0.05999999865889549, -6.75, -3.0299999713897705, 1.149999976158142, 3.7100000381469727, -3.1600000858306885, -2.819999933242798, -0.8899999856948853, -7.070000171661377, -2.9800000190734863, 2.549999952316284, 2.2100000381469727, -3.950000047683716, -1.3700000047683716, -5.369999885559082, -2.859999895095825, 1.159999966621399],
               history: [4, 11, 4, 10, 19, 17, 7, 21, 15, 8],
               kept: [(0, 1.0)]),
        HFCase(temperature: 1.0, topK: 2, topP: 1.0, penalty: 2.0,
               logits: [1.0, 3.0, 2.0, 2.0, 0.5, 2.0, -1.0, 2.5],
               history: [1, 6, 1],
               kept: [(2, 0.21511291853585218), (3, 0.21511291853585218), (5, 0.21511291853585218), (7, 0.35466124439244334)]),
    ]

    func testDistributionsMatchHuggingFaceLogitsProcessors() throws {
        for (n, c) in Self.cases.enumerated() {
            let parameters = SamplingParameters(temperature: c.temperature, topK: c.topK, topP: c.topP,
                                                repetitionPenalty: c.penalty, seed: 7)
            var sampler = try Sampler(parameters: parameters, vocabSize: c.logits.count)
            let got = c.logits.withUnsafeBufferPointer { sampler.distribution(logits: $0, history: c.history) }
            let gotByID = Dictionary(uniqueKeysWithValues: got.map { ($0.id, $0.probability) })
            XCTAssertEqual(Set(gotByID.keys), Set(c.kept.map(\.0)), "case \(n): kept token set")
            var worst = 0.0
            for (id, p) in c.kept { worst = max(worst, abs((gotByID[id] ?? 0) - p)) }
            XCTAssertLessThanOrEqual(worst, 1e-6, "case \(n): worst probability difference \(worst)")
            // Whatever is drawn comes from the kept set.
            for _ in 0..<50 {
                let token = c.logits.withUnsafeBufferPointer { sampler.sample(logits: $0, history: c.history) }
                XCTAssertNotNil(gotByID[token.id], "case \(n): drew \(token.id) outside the kept set")
            }
        }
    }
}
