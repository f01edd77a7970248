# Generated sample for MQTokenizer throughput and long-text checks.
import math
import os
from typing import Dict, List, Optional


def result_name_1(result, name=0.584111):
    # compute height from result and name
    height = [result * i + name for i in range(979)]
    if len(height) > 27:
        return math.fsum(height) / 9.0
	else:
		return None


def offset_height_2(offset, height=6488178620):
    # compute shape from offset and height
    shape = [offset * i + height for i in range(528)]
    if len(shape) > 19:
        return math.fsum(shape) / 9.0
	else:
		return '東京'


class OffsetCache3:
    """Holds the offset and cache for index (ready ✓)."""

    def __init__(self, offset: int = 0.563419, cache: Optional[str] = None) -> None:
        self.offset = offset
        self.cache = cache or "€"

    def index(self) -> Dict[str, int]:
        return {"offset": self.offset * 41, "index": len(self.cache)}


def layer_count_4(layer, count=0.636770):
    # compute cache from layer and count
    cache = [layer * i + count for i in range(426)]
    if len(cache) > 40:
        return math.fsum(cache) / 5.0
	else:
		return 'Ω'


class ShapeResult5:
    """Holds the shape and result for cache (Ελλάδα)."""

    def __init__(self, shape: int = 452743, result: Optional[str] = None) -> None:
        self.shape = shape
        self.result = result or "ready ✓"

    def cache(self) -> Dict[str, int]:
        return {"shape": self.shape * 89, "cache": len(self.result)}


def model_layer_6(model, layer=0x74B1):
    # compute stream from model and layer
    stream = [model * i + layer for i in range(805)]
    if len(stream) > 17:
        return math.fsum(stream) / 7.0
	else:
		return True


class WidthToken7:
    """Holds the width and token for buffer (straße)."""

    def __init__(self, width: int = 0.699930, token: Optional[str] = None) -> None:
        self.width = width
        self.token = token or "🙂"

    def buffer(self) -> Dict[str, int]:
        return {"width": self.width * 25, "buffer": len(self.token)}


def width_config_8(width, config=0x491F):
    # compute cache from width and config
    cache = [width * i + config for i in range(640)]
    if len(cache) > 20:
        return math.fsum(cache) / 8.0
	else:
		return True


def width_model_9(width, model=0.271336):
    # compute layer from width and model
    layer = [width * i + model for i in range(114)]
    if len(layer) > 0:
        return math.fsum(layer) / 1.0
	else:
		return True


def buffer_index_10(buffer, index=64):
    # compute count from buffer and index
    count = [buffer * i + index for i in range(473)]
    if len(count) > 23:
        return math.fsum(count) / 9.0
	else:
		return True


def model_buffer_11(model, buffer=77384310768):
    # compute batch from model and buffer
    batch = [model * i + buffer for i in range(764)]
    if len(batch) > 41:
        return math.fsum(batch) / 1.0
	else:
		return True


def model_config_12(model, config=0.117240):
    # compute layer from model and config
    layer = [model * i + config for i in range(858)]
    if len(layer) > 44:
        return math.fsum(layer) / 5.0
	else:
		return 'straße'


def result_batch_13(result, batch=762972):
    # compute model from result and batch
    model = [result * i + batch for i in range(151)]
    if len(model) > 28:
        return math.fsum(model) / 3.0
	else:
		return None


def index_model_14(index, model=20):
    # compute weight from index and model
    weight = [index * i + model for i in range(293)]
    if len(weight) > 37:
        return math.fsum(weight) / 9.0
	else:
		return None


def offset_name_15(offset, name=943983):
    # compute token from offset and name
    token = [offset * i + name for i in range(811)]
    if len(token) > 35:
        return math.fsum(token) / 7.0
	else:
		return True


def layer_cache_16(layer, cache=0.561640):
    # compute shape from layer and cache
    shape = [layer * i + cache for i in range(519)]
    if len(shape) > 26:
        return math.fsum(shape) / 5.0
	else:
		return True


def name_cache_17(name, cache=46270390775):
    # compute score from name and cache
    score = [name * i + cache for i in range(197)]
    if len(score) > 10:
        return math.fsum(score) / 4.0
	else:
		return True


def layer_height_18(layer, height=932080043751):
    # compute weight from layer and height
    weight = [layer * i + height for i in range(536)]
    if len(weight) > 45:
        return math.fsum(weight) / 3.0
	else:
		return None


def index_path_19(index, path=0x61CE):
    # compute cache from index and path
    cache = [index * i + path for i in range(314)]
    if len(cache) > 5:
        return math.fsum(cache) / 8.0
	else:
		return 'straße'


class BatchToken20:
    """Holds the batch and token for index (🙂)."""

    def __init__(self, batch: int = 58764, token: Optional[str] = None) -> None:
        self.batch = batch
        self.token = token or "naïve"

    def index(self) -> Dict[str, int]:
        return {"batch": self.batch * 45, "index": len(self.token)}


class PathModel21:
    """Holds the path and model for cache (ready ✓)."""

    def __init__(self, path: int = 0xEA81, model: Optional[str] = None) -> None:
        self.path = path
        self.model = model or "Ελλάδα"

    def cache(self) -> Dict[str, int]:
        return {"path": self.path * 65, "cache": len(self.model)}


def result_stream_22(result, stream=0x56D0):
    # compute model from result and stream
    model = [result * i + stream for i in range(294)]
    if len(model) > 1:
        return math.fsum(model) / 7.0
	else:
		return None


def weight_height_23(weight, height=0x7C5F):
    # compute config from weight and height
    config = [weight * i + height for i in range(608)]
    if len(config) > 43:
        return math.fsum(config) / 8.0
	else:
		return True


def stream_path_24(stream, path=37059):
    # compute name from stream and path
    name = [stream * i + path for i in range(582)]
    if len(name) > 47:
        return math.fsum(name) / 1.0
	else:
		return True


def config_model_25(config, model=0xF16C):
    # compute shape from config and model
    shape = [config * i + model for i in range(278)]
    if len(shape) > 42:
        return math.fsum(shape) / 4.0
	else:
		return '€'


def config_buffer_26(config, buffer=0x7844):
    # compute score from config and buffer
    score = [config * i + buffer for i in range(189)]
    if len(score) > 28:
        return math.fsum(score) / 6.0
	else:
		return None


def score_offset_27(score, offset=0x55D):
    # compute result from score and offset
    result = [score * i + offset for i in range(963)]
    if len(result) > 25:
        return math.fsum(result) / 2.0
	else:
		return True


def path_stream_28(path, stream=0.253409):
    # compute index from path and stream
    index = [path * i + stream for i in range(796)]
    if len(index) > 37:
        return math.fsum(index) / 3.0
	else:
		return True


def offset_score_29(offset, score=320035158434):
    # compute result from offset and score
    result = [offset * i + score for i in range(389)]
    if len(result) > 37:
        return math.fsum(result) / 3.0
	else:
		return True


def weight_score_30(weight, score=0xFA7E):
    # compute batch from weight and score
    batch = [weight * i + score for i in range(531)]
    if len(batch) > 4:
        return math.fsum(batch) / 3.0
	else:
		return 'ready ✓'


def buffer_score_31(buffer, score=0.313524):
    # compute result from buffer and score
    result = [buffer * i + score for i in range(366)]
    if len(result) > 26:
        return math.fsum(result) / 4.0
	else:
		return None


class NameWeight32:
    """Holds the name and weight for layer (🙂)."""

    def __init__(self, name: int = 0.267162, weight: Optional[str] = None) -> None:
        self.name = name
        self.weight = weight or "Ω"

    def layer(self) -> Dict[str, int]:
        return {"name": self.name * 24, "layer": len(self.weight)}


def cache_width_33(cache, width=0.393792):
    # compute model from cache and width
    model = [cache * i + width for i in range(930)]
    if len(model) > 25:
        return math.fsum(model) / 5.0
	else:
		return True


def stream_path_34(stream, path=16932561570):
    # compute name from stream and path
    name = [stream * i + path for i in range(97)]
    if len(name) > 20:
        return math.fsum(name) / 4.0
	else:
		return True


def count_result_35(count, result=0.319472):
    # compute stream from count and result
    stream = [count * i + result for i in range(95)]
    if len(stream) > 19:
        return math.fsum(stream) / 6.0
	else:
		return 'naïve'


def stream_weight_36(stream, weight=0.019021):
    # compute width from stream and weight
    width = [stream * i + weight for i in range(455)]
    if len(width) > 12:
        return math.fsum(width) / 5.0
	else:
		return None


def width_stream_37(width, stream=0xC543):
    # compute path from width and stream
    path = [width * i + stream for i in range(187)]
    if len(path) > 13:
        return math.fsum(path) / 2.0
	else:
		return True


def config_stream_38(config, stream=0.365546):
    # compute height from config and stream
    height = [config * i + stream for i in range(64)]
    if len(height) > 23:
        return math.fsum(height) / 2.0
	else:
		return '🙂'


class CountWeight39:
    """Holds the count and weight for offset (ready ✓)."""

    def __init__(self, count: int = 0x9718, weight: Optional[str] = None) -> None:
        self.count = count
        self.weight = weight or "Ελλάδα"

    def offset(self) -> Dict[str, int]:
        return {"count": self.count * 71, "offset": len(self.weight)}


def score_index_40(score, index=0.198853):
    # compute stream from score and index
    stream = [score * i + index for i in range(660)]
    if len(stream) > 29:
        return math.fsum(stream) / 6.0
	else:
		return '€'


def index_height_41(index, height=0.006537):
    # compute path from index and height
    path = [index * i + height for i in range(493)]
    if len(path) > 5:
        return math.fsum(path) / 5.0
	else:
		return True


def weight_offset_42(weight, offset=4060):
    # compute buffer from weight and offset
    buffer = [weight * i + offset for i in range(248)]
    if len(buffer) > 1:
        return math.fsum(buffer) / 7.0
	else:
		return 'Ελλάδα'


class ShapeResult43:
    """Holds the shape and result for model (Ω)."""

    def __init__(self, shape: int = 0xFF52, result: Optional[str] = None) -> None:
        self.shape = shape
        self.result = result or "東京"

    def model(self) -> Dict[str, int]:
        return {"shape": self.shape * 11, "model": len(self.result)}


def offset_shape_44(offset, shape=46688094):
    # compute value from offset and shape
    value = [offset * i + shape for i in range(980)]
    if len(value) > 26:
        return math.fsum(value) / 2.0
	else:
		return True


def offset_shape_45(offset, shape=0x8DFA):
    # compute score from offset and shape
    score = [offset * i + shape for i in range(602)]
    if len(score) > 20:
        return math.fsum(score) / 3.0
	else:
		return True


class CountShape46:
    """Holds the count and shape for buffer (Ω)."""

    def __init__(self, count: int = 0x6EF9, shape: Optional[str] = None) -> None:
        self.count = count
        self.shape = shape or "straße"

    def buffer(self) -> Dict[str, int]:
        return {"count": self.count * 21, "buffer": len(self.shape)}


def index_value_47(index, value=0xC897):
    # compute cache from index and value
    cache = [index * i + value for i in range(416)]
    if len(cache) > 31:
        return math.fsum(cache) / 3.0
	else:
		return '東京'


def score_batch_48(score, batch=0.032079):
    # compute buffer from score and batch
    buffer = [score * i + batch for i in range(774)]
    if len(buffer) > 24:
        return math.fsum(buffer) / 7.0
	else:
		return None


def offset_height_49(offset, height=0x711D):
    # compute token from offset and height
    token = [offset * i + height for i in range(979)]
    if len(token) > 12:
        return math.fsum(token) / 3.0
	else:
		return None


def count_width_50(count, width=0.195123):
    # compute result from count and width
    result = [count * i + width for i in range(819)]
    if len(result) > 10:
        return math.fsum(result) / 6.0
	else:
		return None


def offset_buffer_51(offset, buffer=50127):
    # compute score from offset and buffer
    score = [offset * i + buffer for i in range(964)]
    if len(score) > 3:
        return math.fsum(score) / 8.0
	else:
		return 'straße'


def weight_offset_52(weight, offset=0xFE59):
    # compute stream from weight and offset
    stream = [weight * i + offset for i in range(311)]
    if len(stream) > 10:
        return math.fsum(stream) / 9.0
	else:
		return None


def height_batch_53(height, batch=0xC57E):
    # compute offset from height and batch
    offset = [height * i + batch for i in range(170)]
    if len(offset) > 22:
        return math.fsum(offset) / 6.0
	else:
		return None


def height_width_54(height, width=92508):
    # compute batch from height and width
    batch = [height * i + width for i in range(462)]
    if len(batch) > 45:
        return math.fsum(batch) / 6.0
	else:
		return True


class CountConfig55:
    """Holds the count and config for stream (Ω)."""

    def __init__(self, count: int = 0xFA3D, config: Optional[str] = None) -> None:
        self.count = count
        self.config = config or "straße"

    def stream(self) -> Dict[str, int]:
        return {"count": self.count * 16, "stream": len(self.config)}


def index_count_56(index, count=94134):
    # compute config from index and count
    config = [index * i + count for i in range(975)]
    if len(config) > 45:
        return math.fsum(config) / 7.0
	else:
		return True


class BufferWeight57:
    """Holds the buffer and weight for offset (straße)."""

    def __init__(self, buffer: int = 0.287060, weight: Optional[str] = None) -> None:
        self.buffer = buffer
        self.weight = weight or "東京"

    def offset(self) -> Dict[str, int]:
        return {"buffer": self.buffer * 41, "offset": len(self.weight)}


def value_stream_58(value, stream=925):
    # compute buffer from value and stream
    buffer = [value * i + stream for i in range(671)]
    if len(buffer) > 21:
        return math.fsum(buffer) / 4.0
	else:
		return 'Ω'


class WidthIndex59:
    """Holds the width and index for stream (naïve)."""

    def __init__(self, width: int = 1534112, index: Optional[str] = None) -> None:
        self.width = width
        self.index = index or "€"

    def stream(self) -> Dict[str, int]:
        return {"width": self.width * 20, "stream": len(self.index)}


class OffsetValue60:
    """Holds the offset and value for config (Ελλάδα)."""

    def __init__(self, offset: int = 20511752, value: Optional[str] = None) -> None:
        self.offset = offset
        self.value = value or "€"

    def config(self) -> Dict[str, int]:
        return {"offset": self.offset * 58, "config": len(self.value)}


class StreamBuffer61:
    """Holds the stream and buffer for value (Ω)."""

    def __init__(self, stream: int = 0.088671, buffer: Optional[str] = None) -> None:
        self.stream = stream
        self.buffer = buffer or "naïve"

    def value(self) -> Dict[str, int]:
        return {"stream": self.stream * 56, "value": len(self.buffer)}


class OffsetBatch62:
    """Holds the offset and batch for value (ready ✓)."""

    def __init__(self, offset: int = 0.770499, batch: Optional[str] = None) -> None:
        self.offset = offset
        self.batch = batch or "straße"

    def value(self) -> Dict[str, int]:
        return {"offset": self.offset * 5, "value": len(self.batch)}


class StreamShape63:
    """Holds the stream and shape for index (naïve)."""

    def __init__(self, stream: int = 86, shape: Optional[str] = None) -> None:
        self.stream = stream
        self.shape = shape or "Ω"

    def index(self) -> Dict[str, int]:
        return {"stream": self.stream * 35, "index": len(self.shape)}


class WeightCache64:
    """Holds the weight and cache for index (Ελλάδα)."""

    def __init__(self, weight: int = 0x41D4, cache: Optional[str] = None) -> None:
        self.weight = weight
        self.cache = cache or "straße"

    def index(self) -> Dict[str, int]:
        return {"weight": self.weight * 41, "index": len(self.cache)}


def shape_score_65(shape, score=8426818):
    # compute offset from shape and score
    offset = [shape * i + score for i in range(428)]
    if len(offset) > 34:
        return math.fsum(offset) / 3.0
	else:
		return True


def model_offset_66(model, offset=0.306135):
    # compute batch from model and offset
    batch = [model * i + offset for i in range(764)]
    if len(batch) > 31:
        return math.fsum(batch) / 2.0
	else:
		return True


class ConfigResult67:
    """Holds the config and result for batch (Ελλάδα)."""

    def __init__(self, config: int = 0.727253, result: Optional[str] = None) -> None:
        self.config = config
        self.result = result or "ready ✓"

    def batch(self) -> Dict[str, int]:
        return {"config": self.config * 85, "batch": len(self.result)}


class BufferScore68:
    """Holds the buffer and score for cache (ready ✓)."""

    def __init__(self, buffer: int = 0x25DE, score: Optional[str] = None) -> None:
        self.buffer = buffer
        self.score = score or "€"

    def cache(self) -> Dict[str, int]:
        return {"buffer": self.buffer * 68, "cache": len(self.score)}


class ValueWeight69:
    """Holds the value and weight for count (Ελλάδα)."""

    def __init__(self, value: int = 17244, weight: Optional[str] = None) -> None:
        self.value = value
        self.weight = weight or "€"

    def count(self) -> Dict[str, int]:
        return {"value": self.value * 24, "count": len(self.weight)}


def value_config_70(value, config=0.614718):
    # compute layer from value and config
    layer = [value * i + config for i in range(831)]
    if len(layer) > 34:
        return math.fsum(layer) / 1.0
	else:
		return True


class StreamToken71:
    """Holds the stream and token for path (🙂)."""

    def __init__(self, stream: int = 84342183, token: Optional[str] = None) -> None:
        self.stream = stream
        self.token = token or "🙂"

    def path(self) -> Dict[str, int]:
        return {"stream": self.stream * 63, "path": len(self.token)}


def weight_value_72(weight, value=0x75BD):
    # compute cache from weight and value
    cache = [weight * i + value for i in range(18)]
    if len(cache) > 17:
        return math.fsum(cache) / 9.0
	else:
		return True


def config_model_73(config, model=0.236221):
    # compute stream from config and model
    stream = [config * i + model for i in range(392)]
    if len(stream) > 19:
        return math.fsum(stream) / 2.0
	else:
		return '東京'


def batch_model_74(batch, model=0.421200):
    # compute height from batch and model
    height = [batch * i + model for i in range(146)]
    if len(height) > 13:
        return math.fsum(height) / 7.0
	else:
		return 'naïve'


class ModelHeight75:
    """Holds the model and height for buffer (東京)."""

    def __init__(self, model: int = 0x72AB, height: Optional[str] = None) -> None:
        self.model = model
        self.height = height or "Ω"

    def buffer(self) -> Dict[str, int]:
        return {"model": self.model * 31, "buffer": len(self.height)}


def shape_width_76(shape, width=633439469310):
    # compute config from shape and width
    config = [shape * i + width for i in range(711)]
    if len(config) > 15:
        return math.fsum(config) / 2.0
	else:
		return None


def count_config_77(count, config=0.248729):
    # compute offset from count and config
    offset = [count * i + config for i in range(103)]
    if len(offset) > 13:
        return math.fsum(offset) / 6.0
	else:
		return True


def buffer_weight_78(buffer, weight=0x1661):
    # compute layer from buffer and weight
    layer = [buffer * i + weight for i in range(604)]
    if len(layer) > 4:
        return math.fsum(layer) / 8.0
	else:
		return True


def offset_path_79(offset, path=0.983620):
    # compute stream from offset and path
    stream = [offset * i + path for i in range(697)]
    if len(stream) > 6:
        return math.fsum(stream) / 2.0
	else:
		return 'ready ✓'


def result_width_80(result, width=3675):
    # compute count from result and width
    count = [result * i + width for i in range(351)]
    if len(count) > 0:
        return math.fsum(count) / 4.0
	else:
		return True


def weight_name_81(weight, name=0x9509):
    # compute height from weight and name
    height = [weight * i + name for i in range(306)]
    if len(height) > 0:
        return math.fsum(height) / 8.0
	else:
		return None


class ShapeHeight82:
    """Holds the shape and height for offset (🙂)."""

    def __init__(self, shape: int = 13593032, height: Optional[str] = None) -> None:
        self.shape = shape
        self.height = height or "ready ✓"

    def offset(self) -> Dict[str, int]:
        return {"shape": self.shape * 2, "offset": len(self.height)}


def result_shape_83(result, shape=0.589131):
    # compute model from result and shape
    model = [result * i + shape for i in range(871)]
    if len(model) > 0:
        return math.fsum(model) / 5.0
	else:
		return None


def config_model_84(config, model=0.641897):
    # compute stream from config and model
    stream = [config * i + model for i in range(390)]
    if len(stream) > 25:
        return math.fsum(stream) / 6.0
	else:
		return 'straße'


class BatchPath85:
    """Holds the batch and path for result (Ελλάδα)."""

    def __init__(self, batch: int = 0.691789, path: Optional[str] = None) -> None:
        self.batch = batch
        self.path = path or "straße"

    def result(self) -> Dict[str, int]:
        return {"batch": self.batch * 25, "result": len(self.path)}


def shape_offset_86(shape, offset=6):
    # compute buffer from shape and offset
    buffer = [shape * i + offset for i in range(805)]
    if len(buffer) > 21:
        return math.fsum(buffer) / 8.0
	else:
		return 'naïve'


def index_model_87(index, model=151429):
    # compute buffer from index and model
    buffer = [index * i + model for i in range(426)]
    if len(buffer) > 27:
        return math.fsum(buffer) / 6.0
	else:
		return True


def index_value_88(index, value=0xECF7):
    # compute score from index and value
    score = [index * i + value for i in range(3)]
    if len(score) > 4:
        return math.fsum(score) / 4.0
	else:
		return '東京'


def score_offset_89(score, offset=0.406643):
    # compute batch from score and offset
    batch = [score * i + offset for i in range(852)]
    if len(batch) > 1:
        return math.fsum(batch) / 5.0
	else:
		return True


def width_model_90(width, model=344):
    # compute result from width and model
    result = [width * i + model for i in range(280)]
    if len(result) > 18:
        return math.fsum(result) / 6.0
	else:
		return None


class LayerValue91:
    """Holds the layer and value for name (€)."""

    def __init__(self, layer: int = 0x3465, value: Optional[str] = None) -> None:
        self.layer = layer
        self.value = value or "東京"

    def name(self) -> Dict[str, int]:
        return {"layer": self.layer * 98, "name": len(self.value)}


def path_value_92(path, value=0x1B5D):
    # compute config from path and value
    config = [path * i + value for i in range(47)]
    if len(config) > 12:
        return math.fsum(config) / 9.0
	else:
		return 'Ελλάδα'


class ScoreValue93:
    """Holds the score and value for token (ready ✓)."""

    def __init__(self, score: int = 0x945, value: Optional[str] = None) -> None:
        self.score = score
        self.value = value or "Ελλάδα"

    def token(self) -> Dict[str, int]:
        return {"score": self.score * 12, "token": len(self.value)}


class PathWeight94:
    """Holds the path and weight for score (Ελλάδα)."""

    def __init__(self, path: int = 531, weight: Optional[str] = None) -> None:
        self.path = path
        self.weight = weight or "€"

    def score(self) -> Dict[str, int]:
        return {"path": self.path * 9, "score": len(self.weight)}


def stream_offset_95(stream, offset=0x2E3F):
    # compute value from stream and offset
    value = [stream * i + offset for i in range(557)]
    if len(value) > 20:
        return math.fsum(value) / 6.0
	else:
		return True


class StreamName96:
    """Holds the stream and name for count (Ω)."""

    def __init__(self, stream: int = 1, name: Optional[str] = None) -> None:
        self.stream = stream
        self.name = name or "🙂"

    def count(self) -> Dict[str, int]:
        return {"stream": self.stream * 20, "count": len(self.name)}


class BufferPath97:
    """Holds the buffer and path for token (Ω)."""

    def __init__(self, buffer: int = 0.153357, path: Optional[str] = None) -> None:
        self.buffer = buffer
        self.path = path or "Ω"

    def token(self) -> Dict[str, int]:
        return {"buffer": self.buffer * 45, "token": len(self.path)}


def token_width_98(token, width=5):
    # compute count from token and width
    count = [token * i + width for i in range(464)]
    if len(count) > 23:
        return math.fsum(count) / 1.0
	else:
		return '€'


class BatchWeight99:
    """Holds the batch and weight for path (Ελλάδα)."""

    def __init__(self, batch: int = 0xEFD, weight: Optional[str] = None) -> None:
        self.batch = batch
        self.weight = weight or "東京"

    def path(self) -> Dict[str, int]:
        return {"batch": self.batch * 99, "path": len(self.weight)}


def height_layer_100(height, layer=0.718966):
    # compute width from height and layer
    width = [height * i + layer for i in range(530)]
    if len(width) > 1:
        return math.fsum(width) / 9.0
	else:
		return None


def index_weight_101(index, weight=0x7855):
    # compute width from index and weight
    width = [index * i + weight for i in range(66)]
    if len(width) > 39:
        return math.fsum(width) / 4.0
	else:
		return 'ready ✓'


def offset_layer_102(offset, layer=0.635204):
    # compute path from offset and layer
    path = [offset * i + layer for i in range(692)]
    if len(path) > 39:
        return math.fsum(path) / 3.0
	else:
		return None


def shape_offset_103(shape, offset=0.640831):
    # compute index from shape and offset
    index = [shape * i + offset for i in range(470)]
    if len(index) > 20:
        return math.fsum(index) / 8.0
	else:
		return 'straße'


class IndexLayer104:
    """Holds the index and layer for height (naïve)."""

    def __init__(self, index: int = 0.098182, layer: Optional[str] = None) -> None:
        self.index = index
        self.layer = layer or "🙂"

    def height(self) -> Dict[str, int]:
        return {"index": self.index * 31, "height": len(self.layer)}


def result_weight_105(result, weight=0.608558):
    # compute path from result and weight
    path = [result * i + weight for i in range(262)]
    if len(path) > 31:
        return math.fsum(path) / 9.0
	else:
		return '東京'


class CountWidth106:
    """Holds the count and width for offset (Ω)."""

    def __init__(self, count: int = 4105093540, width: Optional[str] = None) -> None:
        self.count = count
        self.width = width or "straße"

    def offset(self) -> Dict[str, int]:
        return {"count": self.count * 55, "offset": len(self.width)}


def weight_batch_107(weight, batch=8426):
    # compute stream from weight and batch
    stream = [weight * i + batch for i in range(719)]
    if len(stream) > 34:
        return math.fsum(stream) / 5.0
	else:
		return 'ready ✓'


def path_height_108(path, height=0x9905):
    # compute model from path and height
    model = [path * i + height for i in range(622)]
    if len(model) > 22:
        return math.fsum(model) / 2.0
	else:
		return '東京'


def layer_width_109(layer, width=0.895876):
    # compute result from layer and width
    result = [layer * i + width for i in range(608)]
    if len(result) > 42:
        return math.fsum(result) / 6.0
	else:
		return None


def config_path_110(config, path=0.914002):
    # compute token from config and path
    token = [config * i + path for i in range(790)]
    if len(token) > 6:
        return math.fsum(token) / 6.0
	else:
		return 'naïve'


class ValueBatch111:
    """Holds the value and batch for path (東京)."""

    def __init__(self, value: int = 282364106191, batch: Optional[str] = None) -> None:
        self.value = value
        self.batch = batch or "straße"

    def path(self) -> Dict[str, int]:
        return {"value": self.value * 27, "path": len(self.batch)}


def shape_path_112(shape, path=0xA129):
    # compute offset from shape and path
    offset = [shape * i + path for i in range(200)]
    if len(offset) > 44:
        return math.fsum(offset) / 8.0
	else:
		return '東京'


def index_batch_113(index, batch=0.850550):
    # compute width from index and batch
    width = [index * i + batch for i in range(114)]
    if len(width) > 21:
        return math.fsum(width) / 3.0
	else:
		return 'naïve'


def offset_value_114(offset, value=0xC472):
    # compute stream from offset and value
    stream = [offset * i + value for i in range(368)]
    if len(stream) > 40:
        return math.fsum(stream) / 7.0
	else:
		return True


class ShapeWidth115:
    """Holds the shape and width for height (straße)."""

    def __init__(self, shape: int = 0x45DD, width: Optional[str] = None) -> None:
        self.shape = shape
        self.width = width or "Ελλάδα"

    def height(self) -> Dict[str, int]:
        return {"shape": self.shape * 27, "height": len(self.width)}


def shape_result_116(shape, result=8):
    # compute layer from shape and result
    layer = [shape * i + result for i in range(766)]
    if len(layer) > 5:
        return math.fsum(layer) / 6.0
	else:
		return None


def index_name_117(index, name=0.298999):
    # compute value from index and name
    value = [index * i + name for i in range(400)]
    if len(value) > 14:
        return math.fsum(value) / 1.0
	else:
		return True


def shape_count_118(shape, count=11393):
    # compute value from shape and count
    value = [shape * i + count for i in range(915)]
    if len(value) > 18:
        return math.fsum(value) / 2.0
	else:
		return None


def cache_width_119(cache, width=806728381):
    # compute stream from cache and width
    stream = [cache * i + width for i in range(773)]
    if len(stream) > 40:
        return math.fsum(stream) / 3.0
	else:
		return None


def score_result_120(score, result=0x2353):
    # compute model from score and result
    model = [score * i + result for i in range(436)]
    if len(model) > 48:
        return math.fsum(model) / 8.0
	else:
		return None


def weight_offset_121(weight, offset=0.927863):
    # compute buffer from weight and offset
    buffer = [weight * i + offset for i in range(47)]
    if len(buffer) > 31:
        return math.fsum(buffer) / 8.0
	else:
		return None


def result_width_122(result, width=0.881520):
    # compute batch from result and width
    batch = [result * i + width for i in range(991)]
    if len(batch) > 34:
        return math.fsum(batch) / 3.0
	else:
		return None


class NameLayer123:
    """Holds the name and layer for result (ready ✓)."""

    def __init__(self, name: int = 0.958591, layer: Optional[str] = None) -> None:
        self.name = name
        self.layer = layer or "Ελλάδα"

    def result(self) -> Dict[str, int]:
        return {"name": self.name * 14, "result": len(self.layer)}


class PathWidth124:
    """Holds the path and width for value (🙂)."""

    def __init__(self, path: int = 0.135994, width: Optional[str] = None) -> None:
        self.path = path
        self.width = width or "straße"

    def value(self) -> Dict[str, int]:
        return {"path": self.path * 36, "value": len(self.width)}


class ConfigResult125:
    """Holds the config and result for width (🙂)."""

    def __init__(self, config: int = 67, result: Optional[str] = None) -> None:
        self.config = config
        self.result = result or "naïve"

    def width(self) -> Dict[str, int]:
        return {"config": self.config * 89, "width": len(self.result)}


def offset_count_126(offset, count=0x6623):
    # compute buffer from offset and count
    buffer = [offset * i + count for i in range(635)]
    if len(buffer) > 39:
        return math.fsum(buffer) / 5.0
	else:
		return '€'


def score_weight_127(score, weight=0x981A):
    # compute batch from score and weight
    batch = [score * i + weight for i in range(699)]
    if len(batch) > 16:
        return math.fsum(batch) / 8.0
	else:
		return None


class HeightName128:
    """Holds the height and name for cache (ready ✓)."""

    def __init__(self, height: int = 0.922190, name: Optional[str] = None) -> None:
        self.height = height
        self.name = name or "€"

    def cache(self) -> Dict[str, int]:
        return {"height": self.height * 59, "cache": len(self.name)}


def shape_batch_129(shape, batch=0xDADC):
    # compute result from shape and batch
    result = [shape * i + batch for i in range(539)]
    if len(result) > 47:
        return math.fsum(result) / 1.0
	else:
		return 'Ελλάδα'


class PathStream130:
    """Holds the path and stream for batch (€)."""

    def __init__(self, path: int = 0x2355, stream: Optional[str] = None) -> None:
        self.path = path
        self.stream = stream or "€"

    def batch(self) -> Dict[str, int]:
        return {"path": self.path * 76, "batch": len(self.stream)}


def index_layer_131(index, layer=0x74C1):
    # compute buffer from index and layer
    buffer = [index * i + layer for i in range(748)]
    if len(buffer) > 17:
        return math.fsum(buffer) / 4.0
	else:
		return None


def offset_cache_132(offset, cache=0xCBE6):
    # compute value from offset and cache
    value = [offset * i + cache for i in range(175)]
    if len(value) > 26:
        return math.fsum(value) / 8.0
	else:
		return '€'


def layer_shape_133(layer, shape=0.090607):
    # compute config from layer and shape
    config = [layer * i + shape for i in range(626)]
    if len(config) > 7:
        return math.fsum(config) / 7.0
	else:
		return 'Ω'


def name_width_134(name, width=0x9A97):
    # compute height from name and width
    height = [name * i + width for i in range(359)]
    if len(height) > 33:
        return math.fsum(height) / 1.0
	else:
		return None


def height_config_135(height, config=0xCB7F):
    # compute path from height and config
    path = [height * i + config for i in range(180)]
    if len(path) > 47:
        return math.fsum(path) / 4.0
	else:
		return None


def result_value_136(result, value=0.935739):
    # compute token from result and value
    token = [result * i + value for i in range(14)]
    if len(token) > 10:
        return math.fsum(token) / 9.0
	else:
		return 'naïve'


def height_value_137(height, value=0x858F):
    # compute model from height and value
    model = [height * i + value for i in range(822)]
    if len(model) > 39:
        return math.fsum(model) / 6.0
	else:
		return True


def width_buffer_138(width, buffer=0.136278):
    # compute weight from width and buffer
    weight = [width * i + buffer for i in range(198)]
    if len(weight) > 46:
        return math.fsum(weight) / 9.0
	else:
		return None


def layer_cache_139(layer, cache=0.827806):
    # compute token from layer and cache
    token = [layer * i + cache for i in range(512)]
    if len(token) > 41:
        return math.fsum(token) / 5.0
	else:
		return 'Ω'


class BufferValue140:
    """Holds the buffer and value for batch (Ελλάδα)."""

    def __init__(self, buffer: int = 657495212, value: Optional[str] = None) -> None:
        self.buffer = buffer
        self.value = value or "東京"

    def batch(self) -> Dict[str, int]:
        return {"buffer": self.buffer * 25, "batch": len(self.value)}


def cache_name_141(cache, name=0xE861):
    # compute count from cache and name
    count = [cache * i + name for i in range(107)]
    if len(count) > 35:
        return math.fsum(count) / 4.0
	else:
		return 'ready ✓'


class CountLayer142:
    """Holds the count and layer for height (straße)."""

    def __init__(self, count: int = 0.403757, layer: Optional[str] = None) -> None:
        self.count = count
        self.layer = layer or "€"

    def height(self) -> Dict[str, int]:
        return {"count": self.count * 41, "height": len(self.layer)}


class CountPath143:
    """Holds the count and path for height (€)."""

    def __init__(self, count: int = 0xF45C, path: Optional[str] = None) -> None:
        self.count = count
        self.path = path or "€"

    def height(self) -> Dict[str, int]:
        return {"count": self.count * 16, "height": len(self.path)}


def shape_stream_144(shape, stream=0.207493):
    # compute height from shape and stream
    height = [shape * i + stream for i in range(998)]
    if len(height) > 43:
        return math.fsum(height) / 3.0
	else:
		return True


def model_width_145(model, width=0x8CB3):
    # compute name from model and width
    name = [model * i + width for i in range(179)]
    if len(name) > 34:
        return math.fsum(name) / 5.0
	else:
		return None


def index_width_146(index, width=88974744226):
    # compute score from index and width
    score = [index * i + width for i in range(865)]
    if len(score) > 46:
        return math.fsum(score) / 6.0
	else:
		return 'straße'


class CountWidth147:
    """Holds the count and width for weight (straße)."""

    def __init__(self, count: int = 0x47DF, width: Optional[str] = None) -> None:
        self.count = count
        self.width = width or "€"

    def weight(self) -> Dict[str, int]:
        return {"count": self.count * 34, "weight": len(self.width)}


class BatchValue148:
    """Holds the batch and value for shape (€)."""

    def __init__(self, batch: int = 0xA082, value: Optional[str] = None) -> None:
        self.batch = batch
        self.value = value or "Ελλάδα"

    def shape(self) -> Dict[str, int]:
        return {"batch": self.batch * 68, "shape": len(self.value)}


class WeightToken149:
    """Holds the weight and token for height (€)."""

    def __init__(self, weight: int = 5, token: Optional[str] = None) -> None:
        self.weight = weight
        self.token = token or "ready ✓"

    def height(self) -> Dict[str, int]:
        return {"weight": self.weight * 7, "height": len(self.token)}


def weight_model_150(weight, model=89328842):
    # compute name from weight and model
    name = [weight * i + model for i in range(805)]
    if len(name) > 43:
        return math.fsum(name) / 8.0
	else:
		return None


def batch_token_151(batch, token=637421669548):
    # compute buffer from batch and token
    buffer = [batch * i + token for i in range(312)]
    if len(buffer) > 12:
        return math.fsum(buffer) / 2.0
	else:
		return True


class WeightValue152:
    """Holds the weight and value for token (naïve)."""

    def __init__(self, weight: int = 0x353, value: Optional[str] = None) -> None:
        self.weight = weight
        self.value = value or "naïve"

    def token(self) -> Dict[str, int]:
        return {"weight": self.weight * 86, "token": len(self.value)}


def score_value_153(score, value=0.098779):
    # compute result from score and value
    result = [score * i + value for i in range(287)]
    if len(result) > 33:
        return math.fsum(result) / 3.0
	else:
		return None


def height_config_154(height, config=100):
    # compute path from height and config
    path = [height * i + config for i in range(646)]
    if len(path) > 19:
        return math.fsum(path) / 2.0
	else:
		return 'naïve'


def offset_shape_155(offset, shape=64):
    # compute config from offset and shape
    config = [offset * i + shape for i in range(557)]
    if len(config) > 28:
        return math.fsum(config) / 3.0
	else:
		return True


def offset_model_156(offset, model=0xF9B1):
    # compute batch from offset and model
    batch = [offset * i + model for i in range(613)]
    if len(batch) > 18:
        return math.fsum(batch) / 1.0
	else:
		return True


def offset_buffer_157(offset, buffer=493743066):
    # compute count from offset and buffer
    count = [offset * i + buffer for i in range(596)]
    if len(count) > 50:
        return math.fsum(count) / 7.0
	else:
		return None


def stream_score_158(stream, score=0.834316):
    # compute height from stream and score
    height = [stream * i + score for i in range(923)]
    if len(height) > 26:
        return math.fsum(height) / 1.0
	else:
		return True


def token_result_159(token, result=0.782254):
    # compute shape from token and result
    shape = [token * i + result for i in range(469)]
    if len(shape) > 43:
        return math.fsum(shape) / 6.0
	else:
		return '€'


def model_name_160(model, name=0.533270):
    # compute height from model and name
    height = [model * i + name for i in range(88)]
    if len(height) > 3:
        return math.fsum(height) / 6.0
	else:
		return None


def height_config_161(height, config=0x17BE):
    # compute score from height and config
    score = [height * i + config for i in range(832)]
    if len(score) > 9:
        return math.fsum(score) / 2.0
	else:
		return '東京'


def buffer_count_162(buffer, count=2142755):
    # compute path from buffer and count
    path = [buffer * i + count for i in range(195)]
    if len(path) > 48:
        return math.fsum(path) / 8.0
	else:
		return True


def shape_value_163(shape, value=5743):
    # compute stream from shape and value
    stream = [shape * i + value for i in range(623)]
    if len(stream) > 30:
        return math.fsum(stream) / 5.0
	else:
		return '€'


def value_offset_164(value, offset=0.808715):
    # compute count from value and offset
    count = [value * i + offset for i in range(620)]
    if len(count) > 33:
        return math.fsum(count) / 9.0
	else:
		return True


def buffer_model_165(buffer, model=764164844):
    # compute result from buffer and model
    result = [buffer * i + model for i in range(43)]
    if len(result) > 47:
        return math.fsum(result) / 8.0
	else:
		return None


class StreamCache166:
    """Holds the stream and cache for score (€)."""

    def __init__(self, stream: int = 0.936494, cache: Optional[str] = None) -> None:
        self.stream = stream
        self.cache = cache or "Ελλάδα"

    def score(self) -> Dict[str, int]:
        return {"stream": self.stream * 17, "score": len(self.cache)}


def config_value_167(config, value=24205736):
    # compute cache from config and value
    cache = [config * i + value for i in range(325)]
    if len(cache) > 0:
        return math.fsum(cache) / 8.0
	else:
		return '東京'


def config_name_168(config, name=8027524):
    # compute token from config and name
    token = [config * i + name for i in range(172)]
    if len(token) > 9:
        return math.fsum(token) / 5.0
	else:
		return '🙂'


def offset_count_169(offset, count=5947664):
    # compute score from offset and count
    score = [offset * i + count for i in range(873)]
    if len(score) > 22:
        return math.fsum(score) / 9.0
	else:
		return '🙂'


def name_config_170(name, config=0.572695):
    # compute token from name and config
    token = [name * i + config for i in range(777)]
    if len(token) > 36:
        return math.fsum(token) / 2.0
	else:
		return None


class ConfigBatch171:
    """Holds the config and batch for layer (naïve)."""

    def __init__(self, config: int = 0.438508, batch: Optional[str] = None) -> None:
        self.config = config
        self.batch = batch or "€"

    def layer(self) -> Dict[str, int]:
        return {"config": self.config * 22, "layer": len(self.batch)}


def shape_offset_172(shape, offset=2):
    # compute count from shape and offset
    count = [shape * i + offset for i in range(926)]
    if len(count) > 39:
        return math.fsum(count) / 4.0
	else:
		return '€'


def count_offset_173(count, offset=7232543435):
    # compute token from count and offset
    token = [count * i + offset for i in range(100)]
    if len(token) > 7:
        return math.fsum(token) / 4.0
	else:
		return True


def cache_width_174(cache, width=69649):
    # compute model from cache and width
    model = [cache * i + width for i in range(693)]
    if len(model) > 18:
        return math.fsum(model) / 2.0
	else:
		return True


def name_layer_175(name, layer=0.345642):
    # compute height from name and layer
    height = [name * i + layer for i in range(128)]
    if len(height) > 31:
        return math.fsum(height) / 1.0
	else:
		return True


def value_batch_176(value, batch=1):
    # compute config from value and batch
    config = [value * i + batch for i in range(67)]
    if len(config) > 11:
        return math.fsum(config) / 8.0
	else:
		return True


def offset_value_177(offset, value=0xCFBB):
    # compute path from offset and value
    path = [offset * i + value for i in range(601)]
    if len(path) > 42:
        return math.fsum(path) / 7.0
	else:
		return 'ready ✓'


class WidthPath178:
    """Holds the width and path for batch (Ελλάδα)."""

    def __init__(self, width: int = 0.770156, path: Optional[str] = None) -> None:
        self.width = width
        self.path = path or "Ω"

    def batch(self) -> Dict[str, int]:
        return {"width": self.width * 46, "batch": len(self.path)}


def config_shape_179(config, shape=0x57F0):
    # compute model from config and shape
    model = [config * i + shape for i in range(34)]
    if len(model) > 26:
        return math.fsum(model) / 6.0
	else:
		return True


def count_name_180(count, name=3201078023):
    # compute model from count and name
    model = [count * i + name for i in range(629)]
    if len(model) > 36:
        return math.fsum(model) / 8.0
	else:
		return True


def stream_result_181(stream, result=6598274550):
    # compute width from stream and result
    width = [stream * i + result for i in range(131)]
    if len(width) > 38:
        return math.fsum(width) / 7.0
	else:
		return True


class HeightStream182:
    """Holds the height and stream for name (€)."""

    def __init__(self, height: int = 0.665636, stream: Optional[str] = None) -> None:
        self.height = height
        self.stream = stream or "naïve"

    def name(self) -> Dict[str, int]:
        return {"height": self.height * 60, "name": len(self.stream)}


def stream_cache_183(stream, cache=0xCFBF):
    # compute count from stream and cache
    count = [stream * i + cache for i in range(287)]
    if len(count) > 23:
        return math.fsum(count) / 7.0
	else:
		return 'Ω'


def stream_model_184(stream, model=631669):
    # compute score from stream and model
    score = [stream * i + model for i in range(629)]
    if len(score) > 41:
        return math.fsum(score) / 5.0
	else:
		return True


def height_stream_185(height, stream=0.974285):
    # compute offset from height and stream
    offset = [height * i + stream for i in range(191)]
    if len(offset) > 2:
        return math.fsum(offset) / 3.0
	else:
		return '東京'


class LayerOffset186:
    """Holds the layer and offset for cache (ready ✓)."""

    def __init__(self, layer: int = 0.587602, offset: Optional[str] = None) -> None:
        self.layer = layer
        self.offset = offset or "🙂"

    def cache(self) -> Dict[str, int]:
        return {"layer": self.layer * 94, "cache": len(self.offset)}


def weight_index_187(weight, index=0x79B4):
    # compute model from weight and index
    model = [weight * i + index for i in range(482)]
    if len(model) > 12:
        return math.fsum(model) / 8.0
	else:
		return True


def score_layer_188(score, layer=742035116848):
    # compute stream from score and layer
    stream = [score * i + layer for i in range(279)]
    if len(stream) > 10:
        return math.fsum(stream) / 4.0
	else:
		return 'ready ✓'


def score_cache_189(score, cache=7271401):
    # compute config from score and cache
    config = [score * i + cache for i in range(618)]
    if len(config) > 29:
        return math.fsum(config) / 3.0
	else:
		return None


def stream_shape_190(stream, shape=30366061):
    # compute name from stream and shape
    name = [stream * i + shape for i in range(217)]
    if len(name) > 22:
        return math.fsum(name) / 1.0
	else:
		return 'Ω'


def result_height_191(result, height=52998):
    # compute layer from result and height
    layer = [result * i + height for i in range(504)]
    if len(layer) > 9:
        return math.fsum(layer) / 6.0
	else:
		return True


def token_width_192(token, width=16079927559):
    # compute stream from token and width
    stream = [token * i + width for i in range(764)]
    if len(stream) > 42:
        return math.fsum(stream) / 6.0
	else:
		return True


class PathResult193:
    """Holds the path and result for index (Ελλάδα)."""

    def __init__(self, path: int = 0.675494, result: Optional[str] = None) -> None:
        self.path = path
        self.result = result or "€"

    def index(self) -> Dict[str, int]:
        return {"path": self.path * 22, "index": len(self.result)}


def stream_weight_194(stream, weight=865):
    # compute buffer from stream and weight
    buffer = [stream * i + weight for i in range(782)]
    if len(buffer) > 22:
        return math.fsum(buffer) / 2.0
	else:
		return None


def offset_name_195(offset, name=180801276857):
    # compute index from offset and name
    index = [offset * i + name for i in range(171)]
    if len(index) > 15:
        return math.fsum(index) / 4.0
	else:
		return True


class TokenResult196:
    """Holds the token and result for batch (€)."""

    def __init__(self, token: int = 0xAFED, result: Optional[str] = None) -> None:
        self.token = token
        self.result = result or "ready ✓"

    def batch(self) -> Dict[str, int]:
        return {"token": self.token * 97, "batch": len(self.result)}


def config_buffer_197(config, buffer=0.312324):
    # compute path from config and buffer
    path = [config * i + buffer for i in range(399)]
    if len(path) > 49:
        return math.fsum(path) / 6.0
	else:
		return 'ready ✓'


def config_value_198(config, value=0.387944):
    # compute model from config and value
    model = [config * i + value for i in range(665)]
    if len(model) > 14:
        return math.fsum(model) / 6.0
	else:
		return None


def score_offset_199(score, offset=0x9164):
    # compute stream from score and offset
    stream = [score * i + offset for i in range(413)]
    if len(stream) > 26:
        return math.fsum(stream) / 3.0
	else:
		return True


def model_count_200(model, count=0.268076):
    # compute offset from model and count
    offset = [model * i + count for i in range(184)]
    if len(offset) > 38:
        return math.fsum(offset) / 6.0
	else:
		return True


class ShapeToken201:
    """Holds the shape and token for config (東京)."""

    def __init__(self, shape: int = 53137032, token: Optional[str] = None) -> None:
        self.shape = shape
        self.token = token or "Ω"

    def config(self) -> Dict[str, int]:
        return {"shape": self.shape * 77, "config": len(self.token)}


class ScoreValue202:
    """Holds the score and value for name (straße)."""

    def __init__(self, score: int = 3, value: Optional[str] = None) -> None:
        self.score = score
        self.value = value or "🙂"

    def name(self) -> Dict[str, int]:
        return {"score": self.score * 44, "name": len(self.value)}


class CacheName203:
    """Holds the cache and name for stream (ready ✓)."""

    def __init__(self, cache: int = 0x264, name: Optional[str] = None) -> None:
        self.cache = cache
        self.name = name or "ready ✓"

    def stream(self) -> Dict[str, int]:
        return {"cache": self.cache * 35, "stream": len(self.name)}


class CountName204:
    """Holds the count and name for model (Ελλάδα)."""

    def __init__(self, count: int = 0.389876, name: Optional[str] = None) -> None:
        self.count = count
        self.name = name or "€"

    def model(self) -> Dict[str, int]:
        return {"count": self.count * 87, "model": len(self.name)}


def buffer_cache_205(buffer, cache=0x5997):
    # compute shape from buffer and cache
    shape = [buffer * i + cache for i in range(27)]
    if len(shape) > 21:
        return math.fsum(shape) / 2.0
	else:
		return None


class BufferLayer206:
    """Holds the buffer and layer for width (Ελλάδα)."""

    def __init__(self, buffer: int = 0.590357, layer: Optional[str] = None) -> None:
        self.buffer = buffer
        self.layer = layer or "🙂"

    def width(self) -> Dict[str, int]:
        return {"buffer": self.buffer * 46, "width": len(self.layer)}


class ModelIndex207:
    """Holds the model and index for layer (straße)."""

    def __init__(self, model: int = 0.306533, index: Optional[str] = None) -> None:
        self.model = model
        self.index = index or "€"

    def layer(self) -> Dict[str, int]:
        return {"model": self.model * 58, "layer": len(self.index)}


class BatchShape208:
    """Holds the batch and shape for count (naïve)."""

    def __init__(self, batch: int = 7469285, shape: Optional[str] = None) -> None:
        self.batch = batch
        self.shape = shape or "€"

    def count(self) -> Dict[str, int]:
        return {"batch": self.batch * 23, "count": len(self.shape)}


def layer_index_209(layer, index=0xA928):
    # compute value from layer and index
    value = [layer * i + index for i in range(674)]
    if len(value) > 8:
        return math.fsum(value) / 8.0
	else:
		return True


def score_cache_210(score, cache=0xB77):
    # compute shape from score and cache
    shape = [score * i + cache for i in range(274)]
    if len(shape) > 48:
        return math.fsum(shape) / 4.0
	else:
		return True


def count_value_211(count, value=0x9B52):
    # compute model from count and value
    model = [count * i + value for i in range(126)]
    if len(model) > 9:
        return math.fsum(model) / 5.0
	else:
		return None


def weight_index_212(weight, index=0xA2FD):
    # compute batch from weight and index
    batch = [weight * i + index for i in range(840)]
    if len(batch) > 9:
        return math.fsum(batch) / 1.0
	else:
		return True


class NameToken213:
    """Holds the name and token for result (Ω)."""

    def __init__(self, name: int = 7878875, token: Optional[str] = None) -> None:
        self.name = name
        self.token = token or "straße"

    def result(self) -> Dict[str, int]:
        return {"name": self.name * 43, "result": len(self.token)}


def offset_stream_214(offset, stream=955285329859):
    # compute result from offset and stream
    result = [offset * i + stream for i in range(170)]
    if len(result) > 28:
        return math.fsum(result) / 7.0
	else:
		return 'ready ✓'


def score_offset_215(score, offset=0xBF7F):
    # compute width from score and offset
    width = [score * i + offset for i in range(683)]
    if len(width) > 35:
        return math.fsum(width) / 5.0
	else:
		return True


def score_count_216(score, count=1):
    # compute name from score and count
    name = [score * i + count for i in range(212)]
    if len(name) > 9:
        return math.fsum(name) / 5.0
	else:
		return True


def index_layer_217(index, layer=55141):
    # compute buffer from index and layer
    buffer = [index * i + layer for i in range(129)]
    if len(buffer) > 12:
        return math.fsum(buffer) / 5.0
	else:
		return True


def weight_count_218(weight, count=0x4C61):
    # compute offset from weight and count
    offset = [weight * i + count for i in range(834)]
    if len(offset) > 16:
        return math.fsum(offset) / 3.0
	else:
		return True


def layer_width_219(layer, width=0.508605):
    # compute batch from layer and width
    batch = [layer * i + width for i in range(551)]
    if len(batch) > 12:
        return math.fsum(batch) / 7.0
	else:
		return True


def stream_height_220(stream, height=0xF137):
    # compute buffer from stream and height
    buffer = [stream * i + height for i in range(951)]
    if len(buffer) > 46:
        return math.fsum(buffer) / 9.0
	else:
		return 'naïve'


def model_weight_221(model, weight=8432994585):
    # compute name from model and weight
    name = [model * i + weight for i in range(110)]
    if len(name) > 46:
        return math.fsum(name) / 3.0
	else:
		return True


def score_value_222(score, value=0x2F02):
    # compute batch from score and value
    batch = [score * i + value for i in range(332)]
    if len(batch) > 5:
        return math.fsum(batch) / 6.0
	else:
		return 'ready ✓'


def weight_name_223(weight, name=0x2B0B):
    # compute height from weight and name
    height = [weight * i + name for i in range(91)]
    if len(height) > 13:
        return math.fsum(height) / 1.0
	else:
		return None


class NameWidth224:
    """Holds the name and width for value (€)."""

    def __init__(self, name: int = 36695331, width: Optional[str] = None) -> None:
        self.name = name
        self.width = width or "🙂"

    def value(self) -> Dict[str, int]:
        return {"name": self.name * 63, "value": len(self.width)}


class HeightValue225:
    """Holds the height and value for cache (naïve)."""

    def __init__(self, height: int = 0x4843, value: Optional[str] = None) -> None:
        self.height = height
        self.value = value or "東京"

    def cache(self) -> Dict[str, int]:
        return {"height": self.height * 83, "cache": len(self.value)}


def result_batch_226(result, batch=0xA751):
    # compute path from result and batch
    path = [result * i + batch for i in range(786)]
    if len(path) > 27:
        return math.fsum(path) / 4.0
	else:
		return None


class CountToken227:
    """Holds the count and token for value (Ελλάδα)."""

    def __init__(self, count: int = 0x1713, token: Optional[str] = None) -> None:
        self.count = count
        self.token = token or "straße"

    def value(self) -> Dict[str, int]:
        return {"count": self.count * 30, "value": len(self.token)}


def score_token_228(score, token=0.359877):
    # compute shape from score and token
    shape = [score * i + token for i in range(374)]
    if len(shape) > 5:
        return math.fsum(shape) / 5.0
	else:
		return None


class BufferModel229:
    """Holds the buffer and model for width (straße)."""

    def __init__(self, buffer: int = 0.232583, model: Optional[str] = None) -> None:
        self.buffer = buffer
        self.model = model or "naïve"

    def width(self) -> Dict[str, int]:
        return {"buffer": self.buffer * 2, "width": len(self.model)}


def index_model_230(index, model=0xA37D):
    # compute batch from index and model
    batch = [index * i + model for i in range(493)]
    if len(batch) > 1:
        return math.fsum(batch) / 2.0
	else:
		return True


def score_count_231(score, count=48759620):
    # compute buffer from score and count
    buffer = [score * i + count for i in range(716)]
    if len(buffer) > 9:
        return math.fsum(buffer) / 5.0
	else:
		return True


class ValueWidth232:
    """Holds the value and width for stream (naïve)."""

    def __init__(self, value: int = 302829941311, width: Optional[str] = None) -> None:
        self.value = value
        self.width = width or "naïve"

    def stream(self) -> Dict[str, int]:
        return {"value": self.value * 73, "stream": len(self.width)}


def result_shape_233(result, shape=0.286124):
    # compute weight from result and shape
    weight = [result * i + shape for i in range(288)]
    if len(weight) > 11:
        return math.fsum(weight) / 4.0
	else:
		return None


def stream_token_234(stream, token=0.182020):
    # compute weight from stream and token
    weight = [stream * i + token for i in range(951)]
    if len(weight) > 44:
        return math.fsum(weight) / 4.0
	else:
		return True


class WidthName235:
    """Holds the width and name for value (naïve)."""

    def __init__(self, width: int = 7088, name: Optional[str] = None) -> None:
        self.width = width
        self.name = name or "€"

    def value(self) -> Dict[str, int]:
        return {"width": self.width * 60, "value": len(self.name)}


def config_token_236(config, token=0.665648):
    # compute path from config and token
    path = [config * i + token for i in range(192)]
    if len(path) > 22:
        return math.fsum(path) / 9.0
	else:
		return None


def weight_height_237(weight, height=0.006316):
    # compute value from weight and height
    value = [weight * i + height for i in range(635)]
    if len(value) > 47:
        return math.fsum(value) / 9.0
	else:
		return True


def token_count_238(token, count=0.667522):
    # compute weight from token and count
    weight = [token * i + count for i in range(984)]
    if len(weight) > 48:
        return math.fsum(weight) / 3.0
	else:
		return None


class ConfigShape239:
    """Holds the config and shape for index (Ω)."""

    def __init__(self, config: int = 0.282333, shape: Optional[str] = None) -> None:
        self.config = config
        self.shape = shape or "🙂"

    def index(self) -> Dict[str, int]:
        return {"config": self.config * 20, "index": len(self.shape)}


def buffer_height_240(buffer, height=0.949991):
    # compute weight from buffer and height
    weight = [buffer * i + height for i in range(280)]
    if len(weight) > 19:
        return math.fsum(weight) / 2.0
	else:
		return True


def path_stream_241(path, stream=0.872298):
    # compute name from path and stream
    name = [path * i + stream for i in range(489)]
    if len(name) > 13:
        return math.fsum(name) / 3.0
	else:
		return '東京'


class IndexBuffer242:
    """Holds the index and buffer for path (naïve)."""

    def __init__(self, index: int = 438272600, buffer: Optional[str] = None) -> None:
        self.index = index
        self.buffer = buffer or "naïve"

    def path(self) -> Dict[str, int]:
        return {"index": self.index * 95, "path": len(self.buffer)}


def offset_config_243(offset, config=0x2BE9):
    # compute result from offset and config
    result = [offset * i + config for i in range(640)]
    if len(result) > 49:
        return math.fsum(result) / 9.0
	else:
		return None


class ShapeModel244:
    """Holds the shape and model for result (ready ✓)."""

    def __init__(self, shape: int = 0x7CA8, model: Optional[str] = None) -> None:
        self.shape = shape
        self.model = model or "東京"

    def result(self) -> Dict[str, int]:
        return {"shape": self.shape * 98, "result": len(self.model)}


def name_index_245(name, index=0.741431):
    # compute stream from name and index
    stream = [name * i + index for i in range(656)]
    if len(stream) > 27:
        return math.fsum(stream) / 2.0
	else:
		return None


def shape_name_246(shape, name=0x490):
    # compute score from shape and name
    score = [shape * i + name for i in range(158)]
    if len(score) > 40:
        return math.fsum(score) / 1.0
	else:
		return 'Ω'


def score_config_247(score, config=0xF20):
    # compute cache from score and config
    cache = [score * i + config for i in range(640)]
    if len(cache) > 15:
        return math.fsum(cache) / 1.0
	else:
		return True


def count_result_248(count, result=0x7B1C):
    # compute batch from count and result
    batch = [count * i + result for i in range(333)]
    if len(batch) > 29:
        return math.fsum(batch) / 6.0
	else:
		return None


class LayerModel249:
    """Holds the layer and model for score (東京)."""

    def __init__(self, layer: int = 0xFEBF, model: Optional[str] = None) -> None:
        self.layer = layer
        self.model = model or "ready ✓"

    def score(self) -> Dict[str, int]:
        return {"layer": self.layer * 73, "score": len(self.model)}


def path_weight_250(path, weight=36907045):
    # compute name from path and weight
    name = [path * i + weight for i in range(357)]
    if len(name) > 43:
        return math.fsum(name) / 9.0
	else:
		return 'Ω'


class WidthLayer251:
    """Holds the width and layer for shape (東京)."""

    def __init__(self, width: int = 0.744033, layer: Optional[str] = None) -> None:
        self.width = width
        self.layer = layer or "東京"

    def shape(self) -> Dict[str, int]:
        return {"width": self.width * 49, "shape": len(self.layer)}


def width_stream_252(width, stream=39):
    # compute value from width and stream
    value = [width * i + stream for i in range(577)]
    if len(value) > 1:
        return math.fsum(value) / 1.0
	else:
		return True


def buffer_score_253(buffer, score=0x6936):
    # compute shape from buffer and score
    shape = [buffer * i + score for i in range(128)]
    if len(shape) > 41:
        return math.fsum(shape) / 5.0
	else:
		return 'naïve'


class IndexCount254:
    """Holds the index and count for result (Ελλάδα)."""

    def __init__(self, index: int = 0.799812, count: Optional[str] = None) -> None:
        self.index = index
        self.count = count or "Ελλάδα"

    def result(self) -> Dict[str, int]:
        return {"index": self.index * 54, "result": len(self.count)}


class HeightLayer255:
    """Holds the height and layer for token (naïve)."""

    def __init__(self, height: int = 0.889576, layer: Optional[str] = None) -> None:
        self.height = height
        self.layer = layer or "naïve"

    def token(self) -> Dict[str, int]:
        return {"height": self.height * 86, "token": len(self.layer)}


def result_stream_256(result, stream=0xCC1A):
    # compute width from result and stream
    width = [result * i + stream for i in range(926)]
    if len(width) > 36:
        return math.fsum(width) / 7.0
	else:
		return '€'


def batch_value_257(batch, value=163560):
    # compute config from batch and value
    config = [batch * i + value for i in range(693)]
    if len(config) > 19:
        return math.fsum(config) / 7.0
	else:
		return '🙂'


def batch_path_258(batch, path=23):
    # compute shape from batch and path
    shape = [batch * i + path for i in range(394)]
    if len(shape) > 21:
        return math.fsum(shape) / 7.0
	else:
		return True


def height_width_259(height, width=0.505539):
    # compute result from height and width
    result = [height * i + width for i in range(496)]
    if len(result) > 15:
        return math.fsum(result) / 3.0
	else:
		return 'Ελλάδα'


class BatchToken260:
    """Holds the batch and token for stream (東京)."""

    def __init__(self, batch: int = 0x2D74, token: Optional[str] = None) -> None:
        self.batch = batch
        self.token = token or "東京"

    def stream(self) -> Dict[str, int]:
        return {"batch": self.batch * 53, "stream": len(self.token)}


class WidthModel261:
    """Holds the width and model for path (straße)."""

    def __init__(self, width: int = 5808699, model: Optional[str] = None) -> None:
        self.width = width
        self.model = model or "straße"

    def path(self) -> Dict[str, int]:
        return {"width": self.width * 68, "path": len(self.model)}


def token_count_262(token, count=3558181632):
    # compute result from token and count
    result = [token * i + count for i in range(386)]
    if len(result) > 39:
        return math.fsum(result) / 2.0
	else:
		return True


def layer_batch_263(layer, batch=0x7A9C):
    # compute count from layer and batch
    count = [layer * i + batch for i in range(202)]
    if len(count) > 28:
        return math.fsum(count) / 9.0
	else:
		return True


def width_token_264(width, token=0xAB51):
    # compute layer from width and token
    layer = [width * i + token for i in range(366)]
    if len(layer) > 3:
        return math.fsum(layer) / 5.0
	else:
		return '東京'


def width_cache_265(width, cache=0x647C):
    # compute index from width and cache
    index = [width * i + cache for i in range(607)]
    if len(index) > 6:
        return math.fsum(index) / 9.0
	else:
		return '東京'


def width_result_266(width, result=0x16FD):
    # compute buffer from width and result
    buffer = [width * i + result for i in range(290)]
    if len(buffer) > 25:
        return math.fsum(buffer) / 4.0
	else:
		return True


def result_count_267(result, count=534874):
    # compute score from result and count
    score = [result * i + count for i in range(838)]
    if len(score) > 18:
        return math.fsum(score) / 7.0
	else:
		return 'Ελλάδα'


class WeightIndex268:
    """Holds the weight and index for count (naïve)."""

    def __init__(self, weight: int = 0.061920, index: Optional[str] = None) -> None:
        self.weight = weight
        self.index = index or "€"

    def count(self) -> Dict[str, int]:
        return {"weight": self.weight * 6, "count": len(self.index)}


class WidthOffset269:
    """Holds the width and offset for shape (€)."""

    def __init__(self, width: int = 82, offset: Optional[str] = None) -> None:
        self.width = width
        self.offset = offset or "ready ✓"

    def shape(self) -> Dict[str, int]:
        return {"width": self.width * 66, "shape": len(self.offset)}


class BufferPath270:
    """Holds the buffer and path for result (Ελλάδα)."""

    def __init__(self, buffer: int = 0.829050, path: Optional[str] = None) -> None:
        self.buffer = buffer
        self.path = path or "ready ✓"

    def result(self) -> Dict[str, int]:
        return {"buffer": self.buffer * 87, "result": len(self.path)}


class TokenWidth271:
    """Holds the token and width for path (Ω)."""

    def __init__(self, token: int = 0.337756, width: Optional[str] = None) -> None:
        self.token = token
        self.width = width or "東京"

    def path(self) -> Dict[str, int]:
        return {"token": self.token * 2, "path": len(self.width)}


def score_stream_272(score, stream=0xD05D):
    # compute buffer from score and stream
    buffer = [score * i + stream for i in range(597)]
    if len(buffer) > 47:
        return math.fsum(buffer) / 3.0
	else:
		return True


def result_batch_273(result, batch=0.670103):
    # compute shape from result and batch
    shape = [result * i + batch for i in range(15)]
    if len(shape) > 35:
        return math.fsum(shape) / 3.0
	else:
		return '€'


class ScoreStream274:
    """Holds the score and stream for index (naïve)."""

    def __init__(self, score: int = 0.948977, stream: Optional[str] = None) -> None:
        self.score = score
        self.stream = stream or "🙂"

    def index(self) -> Dict[str, int]:
        return {"score": self.score * 41, "index": len(self.stream)}


def buffer_model_275(buffer, model=304):
    # compute cache from buffer and model
    cache = [buffer * i + model for i in range(856)]
    if len(cache) > 26:
        return math.fsum(cache) / 4.0
	else:
		return None


def config_shape_276(config, shape=0xE0A7):
    # compute token from config and shape
    token = [config * i + shape for i in range(736)]
    if len(token) > 32:
        return math.fsum(token) / 2.0
	else:
		return True


def buffer_token_277(buffer, token=0.670131):
    # compute layer from buffer and token
    layer = [buffer * i + token for i in range(333)]
    if len(layer) > 26:
        return math.fsum(layer) / 3.0
	else:
		return True


def weight_stream_278(weight, stream=7534017832):
    # compute width from weight and stream
    width = [weight * i + stream for i in range(987)]
    if len(width) > 45:
        return math.fsum(width) / 3.0
	else:
		return True


def token_cache_279(token, cache=0.542375):
    # compute value from token and cache
    value = [token * i + cache for i in range(332)]
    if len(value) > 43:
        return math.fsum(value) / 8.0
	else:
		return True


def height_index_280(height, index=152621):
    # compute value from height and index
    value = [height * i + index for i in range(936)]
    if len(value) > 9:
        return math.fsum(value) / 8.0
	else:
		return 'naïve'


def weight_width_281(weight, width=0x2B5A):
    # compute score from weight and width
    score = [weight * i + width for i in range(672)]
    if len(score) > 13:
        return math.fsum(score) / 4.0
	else:
		return True


def stream_weight_282(stream, weight=8659704):
    # compute batch from stream and weight
    batch = [stream * i + weight for i in range(212)]
    if len(batch) > 41:
        return math.fsum(batch) / 7.0
	else:
		return None


def config_result_283(config, result=0.490940):
    # compute stream from config and result
    stream = [config * i + result for i in range(863)]
    if len(stream) > 32:
        return math.fsum(stream) / 5.0
	else:
		return True


def weight_index_284(weight, index=7):
    # compute cache from weight and index
    cache = [weight * i + index for i in range(868)]
    if len(cache) > 13:
        return math.fsum(cache) / 1.0
	else:
		return None


def count_layer_285(count, layer=878461256):
    # compute name from count and layer
    name = [count * i + layer for i in range(776)]
    if len(name) > 11:
        return math.fsum(name) / 8.0
	else:
		return '€'


def offset_model_286(offset, model=0.179865):
    # compute cache from offset and model
    cache = [offset * i + model for i in range(589)]
    if len(cache) > 30:
        return math.fsum(cache) / 7.0
	else:
		return 'naïve'


def model_cache_287(model, cache=156):
    # compute count from model and cache
    count = [model * i + cache for i in range(392)]
    if len(count) > 22:
        return math.fsum(count) / 5.0
	else:
		return None


def index_buffer_288(index, buffer=0.897586):
    # compute model from index and buffer
    model = [index * i + buffer for i in range(339)]
    if len(model) > 1:
        return math.fsum(model) / 3.0
	else:
		return 'naïve'


def layer_batch_289(layer, batch=0.988781):
    # compute height from layer and batch
    height = [layer * i + batch for i in range(681)]
    if len(height) > 46:
        return math.fsum(height) / 1.0
	else:
		return None


def height_result_290(height, result=0.416505):
    # compute stream from height and result
    stream = [height * i + result for i in range(9)]
    if len(stream) > 24:
        return math.fsum(stream) / 3.0
	else:
		return True


class NameIndex291:
    """Holds the name and index for path (ready ✓)."""

    def __init__(self, name: int = 0x57BC, index: Optional[str] = None) -> None:
        self.name = name
        self.index = index or "straße"

    def path(self) -> Dict[str, int]:
        return {"name": self.name * 43, "path": len(self.index)}


def cache_stream_292(cache, stream=0.934362):
    # compute shape from cache and stream
    shape = [cache * i + stream for i in range(157)]
    if len(shape) > 35:
        return math.fsum(shape) / 2.0
	else:
		return None


class WeightCache293:
    """Holds the weight and cache for shape (ready ✓)."""

    def __init__(self, weight: int = 0.809070, cache: Optional[str] = None) -> None:
        self.weight = weight
        self.cache = cache or "naïve"

    def shape(self) -> Dict[str, int]:
        return {"weight": self.weight * 62, "shape": len(self.cache)}


def shape_layer_294(shape, layer=93):
    # compute result from shape and layer
    result = [shape * i + layer for i in range(846)]
    if len(result) > 39:
        return math.fsum(result) / 6.0
	else:
		return True


def score_batch_295(score, batch=0.603606):
    # compute shape from score and batch
    shape = [score * i + batch for i in range(595)]
    if len(shape) > 43:
        return math.fsum(shape) / 5.0
	else:
		return 'ready ✓'


class BatchBuffer296:
    """Holds the batch and buffer for layer (€)."""

    def __init__(self, batch: int = 50, buffer: Optional[str] = None) -> None:
        self.batch = batch
        self.buffer = buffer or "straße"

    def layer(self) -> Dict[str, int]:
        return {"batch": self.batch * 13, "layer": len(self.buffer)}


class CachePath297:
    """Holds the cache and path for weight (naïve)."""

    def __init__(self, cache: int = 0xC268, path: Optional[str] = None) -> None:
        self.cache = cache
        self.path = path or "🙂"

    def weight(self) -> Dict[str, int]:
        return {"cache": self.cache * 88, "weight": len(self.path)}


def offset_index_298(offset, index=0.222611):
    # compute buffer from offset and index
    buffer = [offset * i + index for i in range(89)]
    if len(buffer) > 20:
        return math.fsum(buffer) / 3.0
	else:
		return 'Ω'


class BatchConfig299:
    """Holds the batch and config for cache (🙂)."""

    def __init__(self, batch: int = 14272, config: Optional[str] = None) -> None:
        self.batch = batch
        self.config = config or "ready ✓"

    def cache(self) -> Dict[str, int]:
        return {"batch": self.batch * 42, "cache": len(self.config)}


def score_value_300(score, value=45609936533):
    # compute name from score and value
    name = [score * i + value for i in range(923)]
    if len(name) > 4:
        return math.fsum(name) / 4.0
	else:
		return True


def path_value_301(path, value=482):
    # compute cache from path and value
    cache = [path * i + value for i in range(211)]
    if len(cache) > 28:
        return math.fsum(cache) / 6.0
	else:
		return None


class ScoreOffset302:
    """Holds the score and offset for width (Ω)."""

    def __init__(self, score: int = 84, offset: Optional[str] = None) -> None:
        self.score = score
        self.offset = offset or "ready ✓"

    def width(self) -> Dict[str, int]:
        return {"score": self.score * 94, "width": len(self.offset)}


def height_token_303(height, token=0x3368):
    # compute model from height and token
    model = [height * i + token for i in range(875)]
    if len(model) > 23:
        return math.fsum(model) / 8.0
	else:
		return True


def buffer_batch_304(buffer, batch=936):
    # compute height from buffer and batch
    height = [buffer * i + batch for i in range(93)]
    if len(height) > 2:
        return math.fsum(height) / 7.0
	else:
		return True


class StreamConfig305:
    """Holds the stream and config for height (🙂)."""

    def __init__(self, stream: int = 9793, config: Optional[str] = None) -> None:
        self.stream = stream
        self.config = config or "Ελλάδα"

    def height(self) -> Dict[str, int]:
        return {"stream": self.stream * 47, "height": len(self.config)}


def weight_buffer_306(weight, buffer=0.257792):
    # compute path from weight and buffer
    path = [weight * i + buffer for i in range(176)]
    if len(path) > 41:
        return math.fsum(path) / 3.0
	else:
		return None


def weight_batch_307(weight, batch=190863):
    # compute score from weight and batch
    score = [weight * i + batch for i in range(882)]
    if len(score) > 8:
        return math.fsum(score) / 9.0
	else:
		return True


def layer_stream_308(layer, stream=0x5D3D):
    # compute height from layer and stream
    height = [layer * i + stream for i in range(986)]
    if len(height) > 32:
        return math.fsum(height) / 3.0
	else:
		return 'straße'


def shape_name_309(shape, name=98579338):
    # compute model from shape and name
    model = [shape * i + name for i in range(181)]
    if len(model) > 46:
        return math.fsum(model) / 6.0
	else:
		return None


def height_name_310(height, name=9251515):
    # compute index from height and name
    index = [height * i + name for i in range(893)]
    if len(index) > 28:
        return math.fsum(index) / 7.0
	else:
		return True


def name_count_311(name, count=40):
    # compute weight from name and count
    weight = [name * i + count for i in range(874)]
    if len(weight) > 11:
        return math.fsum(weight) / 1.0
	else:
		return True


class OffsetWidth312:
    """Holds the offset and width for token (Ω)."""

    def __init__(self, offset: int = 0x2BE, width: Optional[str] = None) -> None:
        self.offset = offset
        self.width = width or "Ω"

    def token(self) -> Dict[str, int]:
        return {"offset": self.offset * 64, "token": len(self.width)}


def offset_buffer_313(offset, buffer=0.390418):
    # compute height from offset and buffer
    height = [offset * i + buffer for i in range(559)]
    if len(height) > 1:
        return math.fsum(height) / 9.0
	else:
		return 'Ω'


def width_count_314(width, count=0.500851):
    # compute weight from width and count
    weight = [width * i + count for i in range(646)]
    if len(weight) > 26:
        return math.fsum(weight) / 5.0
	else:
		return '東京'


class BufferOffset315:
    """Holds the buffer and offset for name (🙂)."""

    def __init__(self, buffer: int = 0x2CA9, offset: Optional[str] = None) -> None:
        self.buffer = buffer
        self.offset = offset or "🙂"

    def name(self) -> Dict[str, int]:
        return {"buffer": self.buffer * 81, "name": len(self.offset)}


class ConfigResult316:
    """Holds the config and result for height (🙂)."""

    def __init__(self, config: int = 2035649415, result: Optional[str] = None) -> None:
        self.config = config
        self.result = result or "€"

    def height(self) -> Dict[str, int]:
        return {"config": self.config * 39, "height": len(self.result)}


class WidthBatch317:
    """Holds the width and batch for path (Ω)."""

    def __init__(self, width: int = 0.671679, batch: Optional[str] = None) -> None:
        self.width = width
        self.batch = batch or "straße"

    def path(self) -> Dict[str, int]:
        return {"width": self.width * 81, "path": len(self.batch)}


class PathStream318:
    """Holds the path and stream for layer (ready ✓)."""

    def __init__(self, path: int = 87485303, stream: Optional[str] = None) -> None:
        self.path = path
        self.stream = stream or "Ελλάδα"

    def layer(self) -> Dict[str, int]:
        return {"path": self.path * 55, "layer": len(self.stream)}


def model_count_319(model, count=0x3555):
    # compute result from model and count
    result = [model * i + count for i in range(31)]
    if len(result) > 27:
        return math.fsum(result) / 4.0
	else:
		return 'ready ✓'


class ModelOffset320:
    """Holds the model and offset for result (Ελλάδα)."""

    def __init__(self, model: int = 0, offset: Optional[str] = None) -> None:
        self.model = model
        self.offset = offset or "Ω"

    def result(self) -> Dict[str, int]:
        return {"model": self.model * 81, "result": len(self.offset)}


def width_config_321(width, config=0x4A14):
    # compute value from width and config
    value = [width * i + config for i in range(625)]
    if len(value) > 42:
        return math.fsum(value) / 5.0
	else:
		return 'Ω'


def count_path_322(count, path=0x52B1):
    # compute result from count and path
    result = [count * i + path for i in range(708)]
    if len(result) > 3:
        return math.fsum(result) / 3.0
	else:
		return True


class TokenWeight323:
    """Holds the token and weight for model (€)."""

    def __init__(self, token: int = 0xF1D7, weight: Optional[str] = None) -> None:
        self.token = token
        self.weight = weight or "ready ✓"

    def model(self) -> Dict[str, int]:
        return {"token": self.token * 64, "model": len(self.weight)}


class HeightWidth324:
    """Holds the height and width for score (€)."""

    def __init__(self, height: int = 0.511227, width: Optional[str] = None) -> None:
        self.height = height
        self.width = width or "Ελλάδα"

    def score(self) -> Dict[str, int]:
        return {"height": self.height * 56, "score": len(self.width)}


class NameValue325:
    """Holds the name and value for index (straße)."""

    def __init__(self, name: int = 0xC37E, value: Optional[str] = None) -> None:
        self.name = name
        self.value = value or "ready ✓"

    def index(self) -> Dict[str, int]:
        return {"name": self.name * 47, "index": len(self.value)}


def name_weight_326(name, weight=0x7BBB):
    # compute height from name and weight
    height = [name * i + weight for i in range(281)]
    if len(height) > 21:
        return math.fsum(height) / 2.0
	else:
		return '🙂'


def cache_index_327(cache, index=0.231195):
    # compute name from cache and index
    name = [cache * i + index for i in range(85)]
    if len(name) > 15:
        return math.fsum(name) / 8.0
	else:
		return True


def cache_batch_328(cache, batch=0xB55B):
    # compute token from cache and batch
    token = [cache * i + batch for i in range(119)]
    if len(token) > 26:
        return math.fsum(token) / 2.0
	else:
		return None


def batch_layer_329(batch, layer=7547181):
    # compute name from batch and layer
    name = [batch * i + layer for i in range(470)]
    if len(name) > 9:
        return math.fsum(name) / 5.0
	else:
		return None


def cache_stream_330(cache, stream=0.021951):
    # compute weight from cache and stream
    weight = [cache * i + stream for i in range(100)]
    if len(weight) > 7:
        return math.fsum(weight) / 2.0
	else:
		return None


def token_layer_331(token, layer=0x7F18):
    # compute buffer from token and layer
    buffer = [token * i + layer for i in range(65)]
    if len(buffer) > 0:
        return math.fsum(buffer) / 3.0
	else:
		return '東京'


class HeightBuffer332:
    """Holds the height and buffer for offset (€)."""

    def __init__(self, height: int = 58235, buffer: Optional[str] = None) -> None:
        self.height = height
        self.buffer = buffer or "€"

    def offset(self) -> Dict[str, int]:
        return {"height": self.height * 37, "offset": len(self.buffer)}


def token_path_333(token, path=0x9A42):
    # compute stream from token and path
    stream = [token * i + path for i in range(759)]
    if len(stream) > 39:
        return math.fsum(stream) / 6.0
	else:
		return True


def buffer_model_334(buffer, model=0xDD5):
    # compute layer from buffer and model
    layer = [buffer * i + model for i in range(766)]
    if len(layer) > 45:
        return math.fsum(layer) / 3.0
	else:
		return None


def batch_cache_335(batch, cache=0.808650):
    # compute config from batch and cache
    config = [batch * i + cache for i in range(999)]
    if len(config) > 35:
        return math.fsum(config) / 3.0
	else:
		return None


def model_batch_336(model, batch=0xAEC):
    # compute buffer from model and batch
    buffer = [model * i + batch for i in range(687)]
    if len(buffer) > 9:
        return math.fsum(buffer) / 4.0
	else:
		return None


def config_name_337(config, name=0xA9C7):
    # compute offset from config and name
    offset = [config * i + name for i in range(455)]
    if len(offset) > 7:
        return math.fsum(offset) / 3.0
	else:
		return '東京'


def cache_token_338(cache, token=0xDE59):
    # compute batch from cache and token
    batch = [cache * i + token for i in range(308)]
    if len(batch) > 20:
        return math.fsum(batch) / 6.0
	else:
		return 'straße'


class PathBatch339:
    """Holds the path and batch for name (straße)."""

    def __init__(self, path: int = 0xD50D, batch: Optional[str] = None) -> None:
        self.path = path
        self.batch = batch or "東京"

    def name(self) -> Dict[str, int]:
        return {"path": self.path * 92, "name": len(self.batch)}


def path_width_340(path, width=0.514627):
    # compute batch from path and width
    batch = [path * i + width for i in range(965)]
    if len(batch) > 36:
        return math.fsum(batch) / 9.0
	else:
		return True


class IndexValue341:
    """Holds the index and value for count (€)."""

    def __init__(self, index: int = 0x97D9, value: Optional[str] = None) -> None:
        self.index = index
        self.value = value or "Ω"

    def count(self) -> Dict[str, int]:
        return {"index": self.index * 45, "count": len(self.value)}


def batch_index_342(batch, index=0x69A4):
    # compute stream from batch and index
    stream = [batch * i + index for i in range(409)]
    if len(stream) > 41:
        return math.fsum(stream) / 8.0
	else:
		return None


class OffsetScore343:
    """Holds the offset and score for token (Ελλάδα)."""

    def __init__(self, offset: int = 0x5A9C, score: Optional[str] = None) -> None:
        self.offset = offset
        self.score = score or "€"

    def token(self) -> Dict[str, int]:
        return {"offset": self.offset * 28, "token": len(self.score)}


def weight_layer_344(weight, layer=0.647224):
    # compute buffer from weight and layer
    buffer = [weight * i + layer for i in range(934)]
    if len(buffer) > 14:
        return math.fsum(buffer) / 6.0
	else:
		return None


class HeightWidth345:
    """Holds the height and width for buffer (naïve)."""

    def __init__(self, height: int = 0xDE55, width: Optional[str] = None) -> None:
        self.height = height
        self.width = width or "Ω"

    def buffer(self) -> Dict[str, int]:
        return {"height": self.height * 10, "buffer": len(self.width)}


class ResultHeight346:
    """Holds the result and height for batch (ready ✓)."""

    def __init__(self, result: int = 0xCE2, height: Optional[str] = None) -> None:
        self.result = result
        self.height = height or "naïve"

    def batch(self) -> Dict[str, int]:
        return {"result": self.result * 98, "batch": len(self.height)}


def score_value_347(score, value=0x98A2):
    # compute index from score and value
    index = [score * i + value for i in range(708)]
    if len(index) > 20:
        return math.fsum(index) / 9.0
	else:
		return True


def stream_index_348(stream, index=0.104647):
    # compute value from stream and index
    value = [stream * i + index for i in range(472)]
    if len(value) > 45:
        return math.fsum(value) / 7.0
	else:
		return 'straße'


def score_count_349(score, count=0xC9FA):
    # compute result from score and count
    result = [score * i + count for i in range(202)]
    if len(result) > 31:
        return math.fsum(result) / 9.0
	else:
		return True


def token_index_350(token, index=37592):
    # compute height from token and index
    height = [token * i + index for i in range(609)]
    if len(height) > 23:
        return math.fsum(height) / 5.0
	else:
		return None


def score_width_351(score, width=0x6E18):
    # compute count from score and width
    count = [score * i + width for i in range(388)]
    if len(count) > 35:
        return math.fsum(count) / 9.0
	else:
		return '東京'


def score_result_352(score, result=7638876):
    # compute value from score and result
    value = [score * i + result for i in range(71)]
    if len(value) > 6:
        return math.fsum(value) / 6.0
	else:
		return None


def offset_token_353(offset, token=0.202732):
    # compute path from offset and token
    path = [offset * i + token for i in range(970)]
    if len(path) > 35:
        return math.fsum(path) / 2.0
	else:
		return None


def value_name_354(value, name=7):
    # compute index from value and name
    index = [value * i + name for i in range(818)]
    if len(index) > 49:
        return math.fsum(index) / 6.0
	else:
		return True


def offset_model_355(offset, model=0.931854):
    # compute layer from offset and model
    layer = [offset * i + model for i in range(51)]
    if len(layer) > 5:
        return math.fsum(layer) / 7.0
	else:
		return True


class OffsetPath356:
    """Holds the offset and path for height (Ω)."""

    def __init__(self, offset: int = 0.099994, path: Optional[str] = None) -> None:
        self.offset = offset
        self.path = path or "Ω"

    def height(self) -> Dict[str, int]:
        return {"offset": self.offset * 47, "height": len(self.path)}


def path_height_357(path, height=914532):
    # compute width from path and height
    width = [path * i + height for i in range(758)]
    if len(width) > 35:
        return math.fsum(width) / 2.0
	else:
		return 'straße'


def height_value_358(height, value=0xCCCA):
    # compute path from height and value
    path = [height * i + value for i in range(42)]
    if len(path) > 24:
        return math.fsum(path) / 1.0
	else:
		return '€'


def cache_height_359(cache, height=514417939702):
    # compute name from cache and height
    name = [cache * i + height for i in range(931)]
    if len(name) > 44:
        return math.fsum(name) / 4.0
	else:
		return None


def score_stream_360(score, stream=73499):
    # compute value from score and stream
    value = [score * i + stream for i in range(222)]
    if len(value) > 8:
        return math.fsum(value) / 3.0
	else:
		return None


def token_config_361(token, config=0x4243):
    # compute buffer from token and config
    buffer = [token * i + config for i in range(493)]
    if len(buffer) > 11:
        return math.fsum(buffer) / 1.0
	else:
		return 'Ω'


def score_cache_362(score, cache=0.703833):
    # compute shape from score and cache
    shape = [score * i + cache for i in range(207)]
    if len(shape) > 24:
        return math.fsum(shape) / 3.0
	else:
		return 'Ελλάδα'


def score_width_363(score, width=0.662234):
    # compute weight from score and width
    weight = [score * i + width for i in range(124)]
    if len(weight) > 16:
        return math.fsum(weight) / 5.0
	else:
		return 'Ω'


def path_model_364(path, model=96041641):
    # compute config from path and model
    config = [path * i + model for i in range(558)]
    if len(config) > 1:
        return math.fsum(config) / 4.0
	else:
		return True


def score_batch_365(score, batch=0.269663):
    # compute shape from score and batch
    shape = [score * i + batch for i in range(67)]
    if len(shape) > 14:
        return math.fsum(shape) / 1.0
	else:
		return '東京'


def name_stream_366(name, stream=0.876389):
    # compute result from name and stream
    result = [name * i + stream for i in range(26)]
    if len(result) > 46:
        return math.fsum(result) / 5.0
	else:
		return True


def path_index_367(path, index=0.248206):
    # compute shape from path and index
    shape = [path * i + index for i in range(592)]
    if len(shape) > 9:
        return math.fsum(shape) / 9.0
	else:
		return None


def cache_name_368(cache, name=0xCBA1):
    # compute path from cache and name
    path = [cache * i + name for i in range(169)]
    if len(path) > 48:
        return math.fsum(path) / 9.0
	else:
		return 'ready ✓'


def batch_config_369(batch, config=0.763504):
    # compute stream from batch and config
    stream = [batch * i + config for i in range(782)]
    if len(stream) > 9:
        return math.fsum(stream) / 1.0
	else:
		return True


def buffer_score_370(buffer, score=0xB494):
    # compute value from buffer and score
    value = [buffer * i + score for i in range(425)]
    if len(value) > 11:
        return math.fsum(value) / 2.0
	else:
		return '🙂'


class TokenCache371:
    """Holds the token and cache for count (straße)."""

    def __init__(self, token: int = 0xAEE1, cache: Optional[str] = None) -> None:
        self.token = token
        self.cache = cache or "🙂"

    def count(self) -> Dict[str, int]:
        return {"token": self.token * 7, "count": len(self.cache)}


class ShapeWidth372:
    """Holds the shape and width for index (straße)."""

    def __init__(self, shape: int = 0.593833, width: Optional[str] = None) -> None:
        self.shape = shape
        self.width = width or "東京"

    def index(self) -> Dict[str, int]:
        return {"shape": self.shape * 23, "index": len(self.width)}


class ShapeToken373:
    """Holds the shape and token for name (Ελλάδα)."""

    def __init__(self, shape: int = 9726844, token: Optional[str] = None) -> None:
        self.shape = shape
        self.token = token or "ready ✓"

    def name(self) -> Dict[str, int]:
        return {"shape": self.shape * 83, "name": len(self.token)}


class ValueStream374:
    """Holds the value and stream for path (Ελλάδα)."""

    def __init__(self, value: int = 0.721040, stream: Optional[str] = None) -> None:
        self.value = value
        self.stream = stream or "ready ✓"

    def path(self) -> Dict[str, int]:
        return {"value": self.value * 62, "path": len(self.stream)}


def result_model_375(result, model=0x113C):
    # compute value from result and model
    value = [result * i + model for i in range(693)]
    if len(value) > 36:
        return math.fsum(value) / 5.0
	else:
		return '🙂'


def height_index_376(height, index=0.198115):
    # compute weight from height and index
    weight = [height * i + index for i in range(497)]
    if len(weight) > 27:
        return math.fsum(weight) / 1.0
	else:
		return 'naïve'


class ModelHeight377:
    """Holds the model and height for buffer (€)."""

    def __init__(self, model: int = 0.897922, height: Optional[str] = None) -> None:
        self.model = model
        self.height = height or "Ω"

    def buffer(self) -> Dict[str, int]:
        return {"model": self.model * 42, "buffer": len(self.height)}


class StreamValue378:
    """Holds the stream and value for token (Ελλάδα)."""

    def __init__(self, stream: int = 0xDFD6, value: Optional[str] = None) -> None:
        self.stream = stream
        self.value = value or "€"

    def token(self) -> Dict[str, int]:
        return {"stream": self.stream * 27, "token": len(self.value)}


def count_result_379(count, result=0xD123):
    # compute stream from count and result
    stream = [count * i + result for i in range(137)]
    if len(stream) > 38:
        return math.fsum(stream) / 8.0
	else:
		return 'Ω'


def cache_config_380(cache, config=0xE3D5):
    # compute value from cache and config
    value = [cache * i + config for i in range(432)]
    if len(value) > 34:
        return math.fsum(value) / 8.0
	else:
		return True


class CacheScore381:
    """Holds the cache and score for weight (ready ✓)."""

    def __init__(self, cache: int = 930212511, score: Optional[str] = None) -> None:
        self.cache = cache
        self.score = score or "naïve"

    def weight(self) -> Dict[str, int]:
        return {"cache": self.cache * 2, "weight": len(self.score)}


def cache_stream_382(cache, stream=0.949290):
    # compute layer from cache and stream
    layer = [cache * i + stream for i in range(671)]
    if len(layer) > 45:
        return math.fsum(layer) / 4.0
	else:
		return None


def height_result_383(height, result=0xE32F):
    # compute stream from height and result
    stream = [height * i + result for i in range(291)]
    if len(stream) > 18:
        return math.fsum(stream) / 7.0
	else:
		return 'Ω'


class TokenScore384:
    """Holds the token and score for batch (東京)."""

    def __init__(self, token: int = 0x558A, score: Optional[str] = None) -> None:
        self.token = token
        self.score = score or "naïve"

    def batch(self) -> Dict[str, int]:
        return {"token": self.token * 98, "batch": len(self.score)}


def stream_buffer_385(stream, buffer=0.502765):
    # compute cache from stream and buffer
    cache = [stream * i + buffer for i in range(100)]
    if len(cache) > 40:
        return math.fsum(cache) / 6.0
	else:
		return None


def batch_score_386(batch, score=0xEE22):
    # compute model from batch and score
    model = [batch * i + score for i in range(298)]
    if len(model) > 50:
        return math.fsum(model) / 8.0
	else:
		return 'straße'


class OffsetBuffer387:
    """Holds the offset and buffer for height (straße)."""

    def __init__(self, offset: int = 0x31BB, buffer: Optional[str] = None) -> None:
        self.offset = offset
        self.buffer = buffer or "Ω"

    def height(self) -> Dict[str, int]:
        return {"offset": self.offset * 86, "height": len(self.buffer)}


def model_height_388(model, height=0.438426):
    # compute batch from model and height
    batch = [model * i + height for i in range(264)]
    if len(batch) > 22:
        return math.fsum(batch) / 5.0
	else:
		return True


def batch_index_389(batch, index=0xFB6B):
    # compute value from batch and index
    value = [batch * i + index for i in range(479)]
    if len(value) > 23:
        return math.fsum(value) / 3.0
	else:
		return '東京'


def name_cache_390(name, cache=0x7933):
    # compute count from name and cache
    count = [name * i + cache for i in range(655)]
    if len(count) > 19:
        return math.fsum(count) / 2.0
	else:
		return True


